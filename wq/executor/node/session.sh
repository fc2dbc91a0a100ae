# wq interactive session starter: the command of an interactive job's pty
# session, written next to the job's files by the client's setup step.
#
#   sh irun DIR CWD SHELL
#
# Records "pid starttime boot_id" (this process becomes the user's command,
# the session leader of the pty), then runs the command in CWD with the job's
# environment. `wq rm` signals this process group through DIR/pid.
d=$1 cwd=$2 shell=$3
( umask 077 && wq_record_pid "$d" )     # $$ is still this shell in a subshell
if ! cd "$cwd" 2>/dev/null; then
    printf 'wq: the working directory %s does not exist on this host\n' "$cwd" >&2
    exit @RC_NO_CWD@
fi
. "$d/env"
cmd=$(cat "$d/script")
exec "$shell" -c "$cmd"
