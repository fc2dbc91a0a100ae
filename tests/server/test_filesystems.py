from wq.server.filesystems import NETWORK, filesystem_of, network_filesystem

MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:35 / /home rw,relatime shared:20 - nfs4 fs:/export/home rw,vers=4.2
41 40 8:2 / /home/alice/scratch rw shared:21 - xfs /dev/sdb1 rw
42 22 0:36 / /mnt/with\\040space rw - cifs //srv/share rw
43 22 0:37 / /tmp rw - tmpfs tmpfs rw
44 43 0:38 / /tmp rw - fuse.sshfs alice@h:/x rw
"""


def test_the_deepest_mount_above_a_path_decides():
    assert filesystem_of("/home/alice/.local/state/wq", MOUNTINFO) == "nfs4"
    assert filesystem_of("/home/alice/scratch/wq", MOUNTINFO) == "xfs"
    assert filesystem_of("/home", MOUNTINFO) == "nfs4"
    assert filesystem_of("/homework", MOUNTINFO) == "ext4"
    assert filesystem_of("/mnt/with space/wq", MOUNTINFO) == "cifs"
    assert filesystem_of("/tmp/x", MOUNTINFO) == "fuse.sshfs"      # mounted over tmpfs
    assert filesystem_of("/var/lib", MOUNTINFO) == "ext4"


def test_network_types_are_known():
    assert {"nfs", "nfs4", "cifs", "fuse.sshfs", "lustre"} <= NETWORK
    assert "ext4" not in NETWORK and "tmpfs" not in NETWORK


def test_this_machines_temp_directory_is_local(tmp_path):
    assert network_filesystem(str(tmp_path)) is None
