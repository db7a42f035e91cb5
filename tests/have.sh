# have COMMAND WHAT: true when COMMAND is installed. When it is not, WHAT goes untested: under
# CI=true that is a failure (.ci/run installs every tool a test uses), elsewhere a note.
# Needs the caller's bad() for the failure.
have() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "${CI:-}" = true ]; then bad "$2: $1 is not installed (.ci/run installs it)"
    else echo "skip: $2 ($1 is not installed; under CI=true this fails)"; fi
    return 1
}
