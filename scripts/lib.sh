# shellcheck shell=bash
# Shared by scripts/*: sourced ('. scripts/lib.sh' from the repository
# root), it defines functions and changes nothing by itself.

# The runner as every VM path needs it: release, with the Swift runtime
# linked in (the hermetic guest and LAVA's image have no Swift). $1 names
# the calling script in the message.
build_runner() {
	echo "$1: building the runner (swift build -c release --static-swift-stdlib; about a minute the first time)" >&2
	swift build -c release --product klp-harness --static-swift-stdlib >&2
}

# What a deliberately wrong expectation looks like: the suffix appended to
# one kernel line, so the changed line is easy to find in a diff.
wrong_suffix=" (deliberately wrong)"

# deliberately_wrong FILE LINE OUT: FILE with $wrong_suffix appended to its
# line number LINE, written to OUT (scripts/wrong-expectation,
# scripts/lava-wrong-expectation).
deliberately_wrong() {
	awk -v n="$2" -v s="$wrong_suffix" 'NR == n { $0 = $0 s } { print }' "$1" >"$3"
}
