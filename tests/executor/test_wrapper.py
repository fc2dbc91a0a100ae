import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wq.executor import wrapper


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=40))
def test_quote_survives_a_real_shell(text):
    out = subprocess.run(["sh", "-c", f"printf %s {wrapper.quote(text)}"],
                         capture_output=True).stdout
    assert out == text.encode()


def test_job_environment_drops_host_specific_variables():
    env = wrapper.job_environment({
        "PATH": "/bin", "MY_VAR": "1", "DISPLAY": ":0", "SSH_AUTH_SOCK": "/x", "TMPDIR": "/t",
        "HOME": "/h", "WQ_JOB_ID": "3", "BASH_FUNC_f%%": "() {}", "bad-name": "x",
        "OMP_NUM_THREADS": "9", "CUDA_VISIBLE_DEVICES": "0", "wq_d": "/elsewhere"})
    assert env == {"PATH": "/bin", "MY_VAR": "1"}


def test_output_patterns():
    assert wrapper.expand_pattern("out-%j.%i-%h-%%-%x", label="7", instance=2, host="n1") == \
        "out-7.2-n1-%-%x"
    assert wrapper.expand_pattern("%A_%a-%j.out", label="12.7", instance=1, host="n") == \
        "12_7-12.7.out"
    assert wrapper.expand_pattern("%A_%a", label="12", instance=1, host="n") == "12_"


def test_heredoc_tags_never_collide_with_the_text():
    script = wrapper.launch_script(wrapper.Launch("sid", "1.1", "WQ_EOF_\ncat <<'X'\nX\n", "/",
                                                  {"A": "line1\nline2"}))
    assert script.count("WQ_EOF_") >= 6


def test_a_launch_script_is_valid_sh():
    script = wrapper.launch_script(wrapper.Launch("sid", "1.1", "echo hi", "/tmp", {"A": "'"},
                                                  stdout="o-%j", hostfile_lines=("h",) * 2,
                                                  hostfile_path="hf"))
    for text in (script, wrapper.status_script("sid", ["1.2", "3.4"]),
                 wrapper.remove_script("sid", ["1.2"]), wrapper.kill_script('"$HOME/x"', 2),
                 wrapper.watch_script('"$HOME/x"'),
                 wrapper.follow_script('"$HOME/x"', '"$d/stdout"', '"$d/stderr"'),
                 wrapper.cat_script('"$HOME/x"', '"$d/stdout"', "'/a b'", 100)):
        assert subprocess.run(["sh", "-n"], input=text.encode()).returncode == 0


@pytest.mark.parametrize("command,words", [
    ("true", ["true"]),
    ("  ./simulate --steps=100 -o out.txt ", ["./simulate", "--steps=100", "-o", "out.txt"]),
    ("python3 run.py a:b,c@d+e%f", ["python3", "run.py", "a:b,c@d+e%f"]),
    ("echo $HOME", None),                  # expansion
    ("echo 'a b'", None),                  # quoting
    ("a; b", None), ("a && b", None), ("a | b", None), ("a > f", None),
    ("a\nb", None),                        # two commands
    ("ls *.txt", None), ("ls ~/x", None),  # globbing, tilde
    ("A=1 cmd", None),                     # an assignment
    ("cd /tmp", None), ("exit 3", None), ("export A", None), (". ./env", None),
    ("for", None),
])
def test_only_a_command_of_plain_words_is_execd_without_a_shell(command, words):
    job = wrapper.Launch("sid", "1.1", command, "/tmp", {})
    assert wrapper.runner_command(job) == (("exec", words) if words else ("sh", []))


def test_a_chosen_shell_always_runs_the_command():
    job = wrapper.Launch("sid", "1.1", "true", "/tmp", {}, shell="login")
    assert wrapper.runner_command(job) == ("login", [])
