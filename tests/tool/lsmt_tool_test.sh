#!/bin/sh
# lsmt_tool_test.sh - runs every subcommand of the lsmt tool against the store that
# lsmt_tool_make_store builds (make_store.cpp lists its contents), and checks each one's output
# and exit code: dump of a table, a log and the MANIFEST, and of damaged copies of each; get,
# put, del, scan, stats and compact; usage errors; --help.
#
#   sh lsmt_tool_test.sh LSMT MAKE_STORE WORK_DIR
#
# WORK_DIR is emptied first, and removed if everything passed. Every failed expectation is
# reported; the script exits 1 if there was any. POSIX sh and utilities only.

if [ $# -ne 3 ]; then
  echo "usage: sh lsmt_tool_test.sh LSMT MAKE_STORE WORK_DIR" >&2
  exit 2
fi
LSMT=$1
MAKE_STORE=$2
WORK=$3
DB=$WORK/db
BAD=$WORK/bad
T=$(printf '\t')
failures=0
checks=0

rm -rf "$WORK" && mkdir -p "$BAD" || exit 1

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# run EXIT ARGS...: runs lsmt ARGS with stdout in $WORK/out and stderr in $WORK/err; a
# different exit code (a crash included) is a failure.
run() {
  want_exit=$1
  shift
  last="lsmt $*"
  "$LSMT" "$@" >"$WORK/out" 2>"$WORK/err"
  code=$?
  checks=$((checks + 1))
  if [ "$code" -ne "$want_exit" ]; then
    fail "$last: exit $code, expected $want_exit"
    sed 's/^/    stderr: /' "$WORK/err"
  fi
}

# out_is LINE...: stdout of the last run is exactly these lines (none: empty).
out_is() {
  if [ $# -eq 0 ]; then : >"$WORK/want"; else printf '%s\n' "$@" >"$WORK/want"; fi
  checks=$((checks + 1))
  if ! cmp -s "$WORK/want" "$WORK/out"; then
    fail "$last: output differs (- expected, + got)"
    diff "$WORK/want" "$WORK/out" | sed 's/^/    /'
  fi
}

# lines_are REGEX LINE...: the lines of stdout that REGEX (extended) matches are exactly these,
# in this order.
lines_are() {
  re=$1
  shift
  printf '%s\n' "$@" >"$WORK/want"
  grep -E -- "$re" "$WORK/out" >"$WORK/got"
  checks=$((checks + 1))
  if ! cmp -s "$WORK/want" "$WORK/got"; then
    fail "$last: the lines matching '$re' differ (- expected, + got)"
    diff "$WORK/want" "$WORK/got" | sed 's/^/    /'
  fi
}

# has_line LINE...: each is a whole line of stdout.
has_line() {
  for line in "$@"; do
    checks=$((checks + 1))
    grep -qxF -- "$line" "$WORK/out" || fail "$last: no output line '$line'"
  done
}

# has_match REGEX...: each (an extended regex) matches a whole line of stdout.
has_match() {
  for re in "$@"; do
    checks=$((checks + 1))
    grep -qxE -- "$re" "$WORK/out" || fail "$last: no output line matching '$re'"
  done
}

# err_has TEXT: stderr contains TEXT. err_empty: stderr is empty.
err_has() {
  checks=$((checks + 1))
  grep -qF -- "$1" "$WORK/err" || fail "$last: stderr lacks '$1' (it is: $(cat "$WORK/err"))"
}
err_empty() {
  checks=$((checks + 1))
  [ ! -s "$WORK/err" ] || fail "$last: unexpected stderr: $(cat "$WORK/err")"
}

size_of() { wc -c <"$1" | tr -d ' '; }

# The text with the characters special in an extended regex escaped (paths may hold "+").
re_escape() { printf '%s\n' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g'; }

# ---- the store ------------------------------------------------------------------------------
if ! "$MAKE_STORE" "$DB"; then
  echo "FAIL: lsmt_tool_make_store $DB failed"
  exit 1
fi
set -- "$DB"/*.log
[ $# -eq 1 ] && [ -f "$1" ] || { echo "FAIL: expected one log in $DB, got: $*"; exit 1; }
LOG=$1
LOG_NAME=${LOG##*/}
LOG_NUMBER=$(echo "${LOG_NAME%.log}" | sed 's/^0*//')
[ "$(size_of "$LOG")" -gt 32 ] || { echo "FAIL: $LOG holds no record"; exit 1; }

# ---- dump: before anything opens the store, whose open would replay and remove the log ------
run 0 dump "$DB/MANIFEST"
err_empty
has_line "last sequence: 2001"
has_match "MANIFEST $(re_escape "$DB/MANIFEST"): [0-9]+ bytes, format version 4, one record \\(the whole state\\)" \
  "next file number: [0-9]+" \
  "log number: [0-9]+ \\($LOG_NAME and later logs are replayed at open\\)" \
  "store id: 0x[0-9a-f]{16}" \
  "tables: [0-9]+, [0-9]+ bytes" \
  "level [1-6]: [0-9]+ tables?, [0-9]+ bytes \\(sorted by key\\)" \
  '  [0-9]{6}\.sst: [0-9]+ bytes, [0-9]+ entries, "key[0-9]{4}" @[0-9]+ put \.\. "key1999" @2000 put'
checks=$((checks + 1))
if grep -q '^level 0' "$WORK/out"; then fail "$last: level 0 should be empty"; fi
STORE_ID=$(sed -n 's/^store id: //p' "$WORK/out")
# The table holding the binary key (the first key of all) is the one dumped below.
SST_NAME=$(sed -n 's/^  \([0-9]*\.sst\): [0-9]* bytes, [0-9]* entries, "\\x00bin\\xff" @2001 put \.\. .*/\1/p' \
  "$WORK/out")
if [ -z "$SST_NAME" ] || [ ! -f "$DB/$SST_NAME" ]; then
  fail "$last: no table listed with the first key \"\\x00bin\\xff\" @2001"
  SST_NAME=missing.sst
fi
SST=$DB/$SST_NAME
SST_NUMBER=$(echo "${SST_NAME%.sst}" | sed 's/^0*//')

run 0 dump "$SST"
err_empty
has_line "table $SST: $(size_of "$SST") bytes" \
  "  table number: $SST_NUMBER" \
  "  store id: $STORE_ID" \
  "  format version: 2" \
  '  "\x00bin\xff" @2001 put = "\x01\x02 bin"' \
  '  "key0000" @1 put = "value0000"' \
  '  "key0005" @6 put = "value0005"' \
  "key range crc: matches the first and last keys"
has_match "footer: offset [0-9]+, 68 bytes" \
  "  filter block: offset [0-9]+, [0-9]+ bytes" \
  "  index block: offset [0-9]+, [0-9]+ bytes" \
  "  key range crc: 0x[0-9a-f]{8}" \
  "filter: [0-9]+ bytes \\(checksum ok\\): [0-9]+ blocks? of 64 bytes, [0-9]+ probes per key, version 1" \
  "index: [0-9]+ data blocks \\(checksum ok\\)" \
  "  block 0: offset 0, [0-9]+ bytes, separator \"key[0-9]{4}\" @[0-9]+ put" \
  "data block 0: offset 0, [0-9]+ bytes \\+ 5 byte trailer \\(checksum ok\\), [0-9]+ restarts?" \
  "entries: [0-9]+ \\([0-9]+ puts, 0 deletions\\)" \
  'key range: "\\x00bin\\xff" @2001 put \.\. "key[0-9]{4}" @[0-9]+ put'
# Every block the index lists is dumped, and every entry it holds.
BLOCKS=$(sed -n 's/^index: \([0-9]*\) data blocks.*/\1/p' "$WORK/out")
checks=$((checks + 1))
[ "$(grep -c '^data block ' "$WORK/out")" = "$BLOCKS" ] ||
  fail "$last: $(grep -c '^data block ' "$WORK/out") data blocks dumped, the index lists $BLOCKS"
ENTRIES=$(sed -n 's/^entries: \([0-9]*\) .*/\1/p' "$WORK/out")
checks=$((checks + 1))
[ "$(grep -c '^  "' "$WORK/out")" = "$ENTRIES" ] ||
  fail "$last: $(grep -c '^  "' "$WORK/out") entry lines, the summary says $ENTRIES"

run 0 --hex dump "$SST"
has_line "  0062696eff @2001 put = 01022062696e" "  6b657930303030 @1 put = 76616c756530303030"

run 0 dump "$LOG"
err_empty
lines_are '^(  |batches|end)' \
  '  put "log-a" @2002 = "1"' '  put "log-b" @2003 = "2"' '  del "key0005" @2004' \
  "batches: 3 (2 puts, 1 deletion), last sequence 2004" \
  "end: clean, at offset $(size_of "$LOG")"
has_line "log $LOG: $(size_of "$LOG") bytes"
has_match "header: log $LOG_NUMBER, format version 1, synced through offset [0-9]+" \
  "record at offset 32: link to [0-9]{6}\\.log, which ended at offset [0-9]+" \
  "record at offset 57: batch of [0-9]+ bytes, sequence 2002, count 1" \
  "record at offset [0-9]+: batch of [0-9]+ bytes, sequence 2003, count 1" \
  "record at offset [0-9]+: batch of [0-9]+ bytes, sequence 2004, count 1"

run 0 --hex dump "$LOG"
has_line "  put 6c6f672d61 @2002 = 31" "  del 6b657930303035 @2004"

# ---- dump of damaged copies: exit 3 with the reason on stderr, never a crash ------------------
cp "$SST" "$BAD/$SST_NAME"
dd if="$SST" of="$BAD/$SST_NAME" bs=1000 count=10 2>/dev/null  # the footer is gone
run 3 dump "$BAD/$SST_NAME"
err_has "lsmt: table $SST_NUMBER: bad magic number (not a table) (in '$BAD/$SST_NAME')"

cp "$SST" "$BAD/block.sst"  # a named copy: its number comes from its footer
printf 'XXXX' | dd of="$BAD/block.sst" bs=1 seek=100 conv=notrunc 2>/dev/null
run 3 dump "$BAD/block.sst"
err_has "lsmt: table $SST_NUMBER, block at offset 0: checksum mismatch (in '$BAD/block.sst')"
has_line "  store id: $STORE_ID"  # what came before the damage was printed

cp "$LOG" "$BAD/$LOG_NAME"  # the first batch's length field, so valid records follow a bad one
printf '\377\377\377\377' | dd of="$BAD/$LOG_NAME" bs=1 seek=61 conv=notrunc 2>/dev/null
run 3 dump "$BAD/$LOG_NAME"
err_has "is damaged: bad record followed by a valid one"
has_match "record at offset 32: link to [0-9]{6}\\.log, which ended at offset [0-9]+"

# A log cut inside its last record is what a crash leaves: reported, but not an error.
dd if="$LOG" of="$BAD/torn.log" bs=1 count=$(($(size_of "$LOG") - 5)) 2>/dev/null
run 0 dump "$BAD/torn.log"
has_line '  put "log-b" @2003 = "2"'
has_match "end: torn tail at offset [0-9]+: [0-9]+ bytes of a record a crash cut short .*"
checks=$((checks + 1))
if grep -qF 'key0005' "$WORK/out"; then fail "$last: the torn record was shown"; fi

cp "$DB/MANIFEST" "$BAD/MANIFEST"
printf 'X' | dd of="$BAD/MANIFEST" bs=1 seek=20 conv=notrunc 2>/dev/null
run 3 dump "$BAD/MANIFEST"
err_has "lsmt: MANIFEST is corrupt: checksum mismatch"
out_is

dd if="$DB/MANIFEST" of="$BAD/MANIFEST.short" bs=1 count=40 2>/dev/null
run 3 dump "$BAD/MANIFEST.short"
err_has "payload length does not match the file size"

printf 'not a store file\n' >"$BAD/junk"
run 3 dump "$BAD/junk"
err_has "is not a table, log or MANIFEST"
run 3 dump "$BAD/no-such-file.sst"
err_has "lsmt: open '$BAD/no-such-file.sst'"
run 3 dump "$BAD"
err_has "not a regular file"

# ---- get, put, del, scan ---------------------------------------------------------------------
run 0 "$DB" get key0001
out_is value0001
err_empty
run 0 "$DB" get log-a  # written only to the log: the open replays it
out_is 1
run 1 "$DB" get key0005  # deleted in the log
out_is
run 1 "$DB" get no-such-key
out_is
err_empty

run 0 "$DB" put newkey newvalue
out_is
run 0 "$DB" get newkey
out_is newvalue
run 0 "$DB" del key0002
out_is
run 1 "$DB" get key0002
run 0 --hex "$DB" put 6869 7468657265
run 0 "$DB" stats  # its open replays the put just made, which only the log holds
has_line "recovery: replayed 1 batch from 1 log; torn tail 0 bytes; dropped 0 logs, 0 bytes"
run 0 "$DB" get hi
out_is there
run 0 --hex "$DB" get 6869
out_is 7468657265
run 0 --hex "$DB" get 0062696eff
out_is 01022062696e
run 0 --hex "$DB" get 0062696EFF  # either case
out_is 01022062696e

run 0 "$DB" scan --from key0010 --to key0014
out_is "key0010${T}value0010" "key0011${T}value0011" "key0012${T}value0012" "key0013${T}value0013"
run 0 "$DB" scan --from key0010 --to key0014 --reverse
out_is "key0013${T}value0013" "key0012${T}value0012" "key0011${T}value0011" "key0010${T}value0010"
run 0 "$DB" scan --from key0010 --limit 3
out_is "key0010${T}value0010" "key0011${T}value0011" "key0012${T}value0012"
run 0 "$DB" scan --from key0003 --to key0007  # key0005 deleted (in the log)
out_is "key0003${T}value0003" "key0004${T}value0004" "key0006${T}value0006"
run 0 "$DB" scan --to key0004 --reverse --limit 3  # key0002 deleted (by del)
out_is "key0003${T}value0003" "key0001${T}value0001" "key0000${T}value0000"
run 0 "$DB" scan --to a  # the binary key, escaped
out_is '\x00bin\xff'"${T}"'\x01\x02 bin'
run 0 --hex "$DB" scan --from 6b657930303130 --limit 1
out_is "6b657930303130${T}76616c756530303130"
run 0 "$DB" scan --reverse --limit 2 --to o
out_is "newkey${T}newvalue" "log-b${T}2"
run 0 "$DB" scan --limit 0
out_is
# 2000 keys, less 2 deleted, plus the binary key, log-a, log-b, newkey and hi.
run 0 "$DB" scan
checks=$((checks + 1))
[ "$(wc -l <"$WORK/out" | tr -d ' ')" = 2003 ] || fail "$last: $(wc -l <"$WORK/out") lines, expected 2003"
has_line "log-a${T}1" "hi${T}there" "key1999${T}value1999"

# ---- stats and compact ------------------------------------------------------------------------
run 0 "$DB" stats
err_empty
has_line "last_sequence: 2007"
has_match "tables: [0-9]+" "table_bytes: [0-9]+" \
  "level 0: [0-9]+ tables?, [0-9]+ bytes" "level 6: [0-9]+ tables?, [0-9]+ bytes" \
  "immutable_memtables: [0-9]+" "flushes: [0-9]+" "compactions: [0-9]+" \
  "memtable_bytes: [0-9]+" "filter_bytes: [0-9]+" "index_bytes: [0-9]+" \
  "block_cache_bytes: [0-9]+" "mapped_bytes: [0-9]+" \
  "recovery: replayed [0-9]+ batch(es)? from [0-9]+ logs?; torn tail 0 bytes; dropped 0 logs, 0 bytes"
for level in 1 2 3 4 5; do has_match "level $level: [0-9]+ tables?, [0-9]+ bytes"; done

run 0 "$DB" compact
err_empty
has_match "compacted: [0-9]+ tables?, [0-9]+ bytes"
run 0 "$DB" stats
has_line "level 0: 0 tables, 0 bytes" "last_sequence: 2007"
run 0 "$DB" get key0001
out_is value0001
run 1 "$DB" get key0005

# ---- a directory without a store: only put and del create one --------------------------------
for cmd in "get k" "scan" "stats" "compact"; do
  # shellcheck disable=SC2086 # the subcommand and its argument are two words
  run 3 "$WORK/none" $cmd
  err_has "lsmt: no store in '$WORK/none'"
  checks=$((checks + 1))
  [ ! -e "$WORK/none" ] || fail "$last created $WORK/none"
done
run 0 "$WORK/fresh" put k v
run 0 "$WORK/fresh" get k
out_is v
run 0 "$WORK/fresh2" del k
checks=$((checks + 1))
[ -f "$WORK/fresh2/MANIFEST" ] || fail "$last: made no store"

# ---- usage errors: exit 2, nothing opened or created ------------------------------------------
run 2 "$DB" frobnicate
err_has "lsmt: unknown subcommand 'frobnicate'"
run 2 "$DB" get
err_has "usage: lsmt [--hex] DIR get KEY"
run 2 "$DB" get a b
err_has "unexpected argument 'b'"
run 2 "$WORK/typo" put onlykey
checks=$((checks + 1))
[ ! -e "$WORK/typo" ] || fail "$last created $WORK/typo"
run 2 --hex "$DB" get zz
err_has "KEY 'zz' is not hex"
run 2 --hex "$DB" put abc 00
err_has "KEY 'abc' is not hex"
run 2 "$DB" scan --limit -1
err_has "--limit '-1' is not a count"
run 2 "$DB" scan --limit
err_has "--limit needs a value"
run 2 "$DB" scan --sideways
err_has "unknown scan option '--sideways'"
run 2 "$DB" stats extra
run 2 --verbose "$DB" get a
err_has "unknown option '--verbose'"
run 2 "$DB"
err_has "missing subcommand after DIR"
run 2
err_has "missing subcommand"
run 2 "$DB" dump "$SST"
err_has "dump takes no DIR"
run 2 dump
err_has "usage: lsmt [--hex] dump FILE"

# ---- help ---------------------------------------------------------------------------------------
run 0 --help
err_empty
has_line "Usage:" "  lsmt [--hex] DIR get KEY" "  lsmt [--hex] DIR put KEY VALUE" \
  "  lsmt [--hex] DIR del KEY" "  lsmt [--hex] DIR scan [--from K] [--to K] [--limit N] [--reverse]" \
  "  lsmt DIR stats" "  lsmt DIR compact" "  lsmt [--hex] dump FILE" "  lsmt --help" "Exit codes:"
has_match "  0  success" "  1  get: the key is absent" "  2  usage error: .*" "  3  an lsmt error .*"
run 0 -h
has_line "Usage:"

# ---- the result ---------------------------------------------------------------------------------
if [ "$failures" -ne 0 ]; then
  echo "$failures of $checks checks failed (the files are in $WORK)"
  exit 1
fi
echo "all $checks checks passed"
rm -rf "$WORK"
