#!/bin/sh
# lsmt_tool_test.sh - runs every subcommand of the lsmt tool against the store that
# lsmt_tool_make_store builds (make_store.cpp lists its contents), and checks each one's output
# and exit code: dump of a table (with and without range deletions), a log, the MANIFEST and a
# blob file (of a second store), and of damaged copies of each; get, put, del, delrange, scan,
# stats, sstables, compact (whole and by range), size, verify (of the store and of a damaged
# copy), repair, checkpoint, destroy; usage errors; --help.
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
# For repair, below: a copy whose range deletions are still in a table and in the log.
cp -r "$DB" "$WORK/rep-rd"

# ---- dump: before anything opens the store, whose open would replay and remove the log ------
run 0 dump "$DB/MANIFEST"
err_empty
has_line "last sequence: 2003"
has_match "MANIFEST $(re_escape "$DB/MANIFEST"): [0-9]+ bytes, format version 4, one record \\(the whole state\\)" \
  "next file number: [0-9]+" \
  "log number: [0-9]+ \\($LOG_NAME and later logs are replayed at open\\)" \
  "store id: 0x[0-9a-f]{16}" \
  "tables: [0-9]+, [0-9]+ bytes" \
  "level [1-6]: [0-9]+ tables?, [0-9]+ bytes \\(sorted by key\\)" \
  '  [0-9]{6}\.sst: [0-9]+ bytes, [0-9]+ entries, "key[0-9]{4}" @[0-9]+ put \.\. "key1999" @2000 put' \
  "level 0: 1 table, [0-9]+ bytes \\(newest first; key ranges may overlap\\)"
# Level 0's one table holds the range deletion [key0020, key0030): its bounds cover it.
RD_SST_NAME=$(sed -n \
  's/^  \([0-9]*\.sst\): [0-9]* bytes, 1 entry, "key0020" @max put \.\. "key0030" @0 del$/\1/p' \
  "$WORK/out")
if [ -z "$RD_SST_NAME" ] || [ ! -f "$DB/$RD_SST_NAME" ]; then
  fail "$last: no table listed with bounds \"key0020\" @max put .. \"key0030\" @0 del"
  RD_SST_NAME=missing.sst
fi
RD_SST=$DB/$RD_SST_NAME
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
checks=$((checks + 1))
if grep -qE 'range_del|range-del|range del' "$WORK/out"; then
  fail "$last: a version 2 table shows range deletions"
fi
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

# The table with a range deletion: version 3, whose data blocks end where its range-deletion
# block starts.
run 0 dump "$RD_SST"
err_empty
lines_are '^(  "|  range_del|entries|key range|bounds)' '  "key0025" @2003 put = "again"' \
  '  range_del ["key0020" .. "key0030") @2002' \
  "entries: 1 (1 put, 0 deletions), 1 range deletion" \
  'key range: "key0025" @2003 put .. "key0025" @2003 put' \
  'bounds (with the range deletions): "key0020" @max put .. "key0030" @0 del' \
  "key range crc: matches the bounds"
has_line "  format version: 3"
has_match "footer: offset [0-9]+, 84 bytes" "index: 1 data block \\(checksum ok\\)"
# The end of the last data block, with its 5-byte trailer.
DATA_END=$(sed -n 's/^data block [0-9]*: offset \([0-9]*\), \([0-9]*\) bytes .*/\1 \2/p' \
  "$WORK/out" | tail -n 1 | { read -r offset bytes && echo $((offset + bytes + 5)); })
has_match "  range-deletion block: offset $DATA_END, [0-9]+ bytes" \
  "range-deletion block: offset $DATA_END, [0-9]+ bytes \\+ 5 byte trailer \\(checksum ok\\), .*"
run 0 --hex dump "$RD_SST"
has_line "  range_del [6b657930303230 .. 6b657930303330) @2002" \
  "bounds (with the range deletions): 6b657930303230 @max put .. 6b657930303330 @0 del"

run 0 dump "$LOG"
err_empty
lines_are '^(  |batches|end)' \
  '  put "log-a" @2004 = "1"' '  put "log-b" @2005 = "2"' \
  '  range_del ["key0040" .. "key0050") @2006' '  del "key0005" @2007' \
  "batches: 4 (2 puts, 1 deletion, 1 range deletion), last sequence 2007" \
  "end: clean, at offset $(size_of "$LOG")"
has_line "log $LOG: $(size_of "$LOG") bytes"
has_match "header: log $LOG_NUMBER, format version 1, synced through offset [0-9]+" \
  "record at offset 32: link to [0-9]{6}\\.log, which ended at offset [0-9]+" \
  "record at offset 57: batch of [0-9]+ bytes, sequence 2004, count 1" \
  "record at offset [0-9]+: batch of [0-9]+ bytes, sequence 2005, count 1" \
  "record at offset [0-9]+: batch of [0-9]+ bytes, sequence 2006, count 1" \
  "record at offset [0-9]+: batch of [0-9]+ bytes, sequence 2007, count 1"

run 0 --hex dump "$LOG"
has_line "  put 6c6f672d61 @2004 = 31" "  range_del [6b657930303430 .. 6b657930303530) @2006" \
  "  del 6b657930303035 @2007"

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

cp "$RD_SST" "$BAD/$RD_SST_NAME"  # its range-deletion block
printf 'XXXX' | dd of="$BAD/$RD_SST_NAME" bs=1 seek=$((DATA_END + 2)) conv=notrunc 2>/dev/null
run 3 dump "$BAD/$RD_SST_NAME"
err_has "checksum mismatch (in '$BAD/$RD_SST_NAME')"

cp "$LOG" "$BAD/$LOG_NAME"  # the first batch's length field, so valid records follow a bad one
printf '\377\377\377\377' | dd of="$BAD/$LOG_NAME" bs=1 seek=61 conv=notrunc 2>/dev/null
run 3 dump "$BAD/$LOG_NAME"
err_has "is damaged: bad record followed by a valid one"
has_match "record at offset 32: link to [0-9]{6}\\.log, which ended at offset [0-9]+"

# A log cut inside its last record is what a crash leaves: reported, but not an error.
dd if="$LOG" of="$BAD/torn.log" bs=1 count=$(($(size_of "$LOG") - 5)) 2>/dev/null
run 0 dump "$BAD/torn.log"
has_line '  put "log-b" @2005 = "2"' '  range_del ["key0040" .. "key0050") @2006'
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

# ---- a store with a blob file (lsmt_tool_make_store --blobs) ---------------------------------
BDB=$WORK/blobs
if "$MAKE_STORE" --blobs "$BDB"; then
  BLOB=$(ls "$BDB"/*.blob)
  BLOB_NAME=${BLOB##*/}
  run 0 dump "$BLOB"
  err_empty
  has_line "blob file $BLOB: $(size_of "$BLOB") bytes" "  format version: 1" \
    "records: 1, 300 bytes of values"
  has_match "  store id: 0x[0-9a-f]{16} \\(not checked: the file is read on its own\\)" \
    "record 0 at offset 32, 3[0-9]{2} bytes: \"big\" @1 = \"b{300}\""
  BSST=$(ls "$BDB"/*.sst)
  run 0 dump "$BSST"
  has_match "  \"big\" @1 blob = -> $BLOB_NAME record 0 at offset 32, 3[0-9]{2} bytes"
  has_line '  "small" @2 put = "s"'
  run 0 dump "$BDB/MANIFEST"
  has_match "MANIFEST .*, format version 5, one record \\(the whole state\\)" \
    "    refers to 3[0-9]{2} bytes of $BLOB_NAME" "blob files: 1, [0-9]+ bytes" \
    "  $BLOB_NAME: [0-9]+ bytes, 1 record"
  cp "$BLOB" "$BAD/$BLOB_NAME"  # inside the record: its checksum no longer matches
  printf 'XXXX' | dd of="$BAD/$BLOB_NAME" bs=1 seek=100 conv=notrunc 2>/dev/null
  run 3 dump "$BAD/$BLOB_NAME"
  err_has "at offset 32: checksum mismatch"
  run 0 "$BDB" get big
  out_is "$(awk 'BEGIN { s = ""; for (i = 0; i < 300; i++) s = s "b"; print s }')"
  run 0 "$BDB" verify
  run 0 "$BDB" stats
  has_match "blob files: 1, [0-9]+ bytes, 0 bytes of garbage; [0-9]+ bytes written"
else
  fail "lsmt_tool_make_store --blobs $BDB failed"
fi

printf 'not a store file\n' >"$BAD/junk"
run 3 dump "$BAD/junk"
err_has "is not a table, log, blob file or MANIFEST"
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
# [key0020, key0030) is deleted by the range deletion in a table; key0025 was written after it.
run 1 "$DB" get key0020
out_is
run 1 "$DB" get key0029
run 0 "$DB" get key0025
out_is again
run 0 "$DB" get key0030
out_is value0030
run 0 "$DB" scan --from key0018 --to key0032
out_is "key0018${T}value0018" "key0019${T}value0019" "key0025${T}again" "key0030${T}value0030" \
  "key0031${T}value0031"
# [key0040, key0050) is deleted by the range deletion only in the log, which the opens replay.
run 1 "$DB" get key0040
run 1 "$DB" get key0049
run 0 "$DB" scan --from key0039 --to key0051
out_is "key0039${T}value0039" "key0050${T}value0050"
run 0 "$DB" verify  # level 0 holds tables with range deletions (format version 3)
err_empty
has_match "verified [0-9]+ tables?, [0-9]+ entries, [0-9]+ bytes: ok"
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

run 0 "$DB" delrange key0060 key0070
out_is
err_empty
run 1 "$DB" get key0060
out_is
run 1 "$DB" get key0069
run 0 "$DB" get key0070  # END is exclusive
out_is value0070
run 0 "$DB" scan --from key0058 --to key0072
out_is "key0058${T}value0058" "key0059${T}value0059" "key0070${T}value0070" "key0071${T}value0071"
run 0 --hex "$DB" delrange 6b657930303830 6b657930303832  # [key0080, key0082)
out_is
run 0 "$DB" scan --from key0079 --to key0084
out_is "key0079${T}value0079" "key0082${T}value0082" "key0083${T}value0083"

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
# 2000 keys, less 2 deleted and 31 in deleted ranges (key0025 came back), plus the binary key,
# log-a, log-b, newkey and hi.
run 0 "$DB" scan
checks=$((checks + 1))
[ "$(wc -l <"$WORK/out" | tr -d ' ')" = 1972 ] || fail "$last: $(wc -l <"$WORK/out") lines, expected 1972"
has_line "log-a${T}1" "hi${T}there" "key1999${T}value1999"

# ---- stats, sstables and compact ---------------------------------------------------------------
run 0 "$DB" stats
err_empty
has_line "level  tables          bytes  merges   moves       bytes in     bytes read  bytes written  w-amp"
row=" +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+\\.[0-9]{2}"  # bytes, the merges, w-amp
has_match " +0 +[0-9]+$row" " +6 +[0-9]+$row" "total +[0-9]+ +[0-9]+" \
  "pending compaction: [0-9]+ bytes" "range deletions: [0-9]+ in tables, 0 in memtables" \
  "writes: [0-9]+ bytes of keys and values, [0-9]+ bytes of log; write amplification [0-9]+\\.[0-9]{2}" \
  "flushes: [0-9]+, [0-9]+ bytes written" \
  "compactions: [0-9]+ \\([0-9]+ moves\\), [0-9]+ bytes read, [0-9]+ bytes written" \
  "idle settles: [0-9]+" \
  "stalls: [0-9]+, [0-9]+ us in total" "slowdowns: [0-9]+, [0-9]+ us in total" \
  "block cache: [0-9]+ hits, [0-9]+ misses" \
  "bloom filters: [0-9]+ checks, [0-9]+ useful" "memory: memtables [0-9]+ bytes .*" \
  "mapped: [0-9]+ bytes of tables" "snapshots: 0 live; last sequence 2012" \
  "recovery: replayed [0-9]+ batch(es)? from [0-9]+ logs?; torn tail 0 bytes; dropped 0 logs, 0 bytes"
for level in 1 2 3 4 5; do has_match " +$level +[0-9]+$row"; done

# The opens before this one may have left merges running in the background (an open that
# replays a log adds a table to level 0). One compact first gives sstables a settled store.
run 0 "$DB" compact
err_empty
has_match "compacted: [0-9]+ tables?, [0-9]+ bytes"
TOTAL_TABLES=$(sed -n 's/^compacted: \([0-9]*\) .*/\1/p' "$WORK/out")

# Every table, by number; each is a file of the store, and there are as many as compact left.
run 0 "$DB" sstables
err_empty
has_match "level 6:" "  #[0-9]+ [0-9]+ bytes, [0-9]+ entries, \\['.*' \\.\\. '.*'\\]"
has_match "  #[0-9]+ [0-9]+ bytes, [0-9]+ entries, \\['\\\\x00bin\\\\xff' \\.\\. 'key[0-9]{4}'\\]"
NUMBERS=$(sed -n 's/^  #\([0-9]*\) .*/\1/p' "$WORK/out")
checks=$((checks + 1))
[ "$(echo "$NUMBERS" | grep -c .)" = "$TOTAL_TABLES" ] ||
  fail "$last: lists $(echo "$NUMBERS" | grep -c .) tables, compact left $TOTAL_TABLES"
for n in $NUMBERS; do
  checks=$((checks + 1))
  [ -f "$DB/$(printf '%06d' "$n").sst" ] || fail "$last: lists #$n, which is no file of the store"
done

run 0 "$DB" compact --from key0100 --to key0200
err_empty
has_match "compacted: [0-9]+ tables?, [0-9]+ bytes"
run 0 --hex "$DB" compact --from 6b657930333030  # key0300 onwards
has_match "compacted: [0-9]+ tables?, [0-9]+ bytes"
run 0 "$DB" compact --to key0050
has_match "compacted: [0-9]+ tables?, [0-9]+ bytes"
run 0 "$DB" scan --from key0099 --to key0202
checks=$((checks + 1))
[ "$(wc -l <"$WORK/out" | tr -d ' ')" = 103 ] || fail "$last: $(wc -l <"$WORK/out") lines, expected 103"
has_line "key0099${T}value0099" "key0100${T}value0100" "key0200${T}value0200" "key0201${T}value0201"
run 0 "$DB" get key0200
out_is value0200
run 1 "$DB" get key0005
run 1 "$DB" get key0020  # the range deletions hold after the merges
run 1 "$DB" get key0065
run 0 "$DB" scan
checks=$((checks + 1))
[ "$(wc -l <"$WORK/out" | tr -d ' ')" = 1972 ] || fail "$last: $(wc -l <"$WORK/out") lines, expected 1972"

run 0 "$DB" compact
err_empty
has_match "compacted: [0-9]+ tables?, [0-9]+ bytes"
run 0 "$DB" stats
# Nothing merges into level 0: its row is all zeros.
has_match " +0 +0 +0 +0 +0 +0 +0 +0 +0\\.00" "snapshots: 0 live; last sequence 2012"
run 0 "$DB" get key0001
out_is value0001
run 1 "$DB" get key0005

# ---- size -------------------------------------------------------------------------------------
run 0 "$DB" size
err_empty
has_match "[0-9]+"
WHOLE=$(cat "$WORK/out")
checks=$((checks + 1))
[ "$WHOLE" -gt 0 ] 2>/dev/null || fail "$last: size of every key is '$WHOLE', expected > 0"
run 0 "$DB" size --from key0100 --to key1100
PART=$(cat "$WORK/out")
checks=$((checks + 1))
if ! { [ "$PART" -gt 0 ] && [ "$PART" -le "$WHOLE" ]; } 2>/dev/null; then
  fail "$last: '$PART', expected > 0 and at most the whole store's $WHOLE"
fi
run 0 --hex "$DB" size --from 6b657930313030 --to 6b657931313030  # the same range in hex
out_is "$PART"
run 0 "$DB" size --from zzz --to zzzz
out_is 0

# ---- verify -----------------------------------------------------------------------------------
run 0 "$DB" verify
err_empty
has_match "verified [0-9]+ tables?, 1972 entries, [0-9]+ bytes: ok"
checks=$((checks + 1))
[ "$(wc -l <"$WORK/out" | tr -d ' ')" = 1 ] || fail "$last: more than the summary was printed"

# A copy with one byte flipped in a table's first data block (at offset 100; the block starts at 0).
DAMAGED=$WORK/damaged
cp -r "$DB" "$DAMAGED"
set -- "$DAMAGED"/*.sst
VICTIM=$1
VICTIM_NUMBER=$(echo "${VICTIM##*/}" | sed 's/^0*//; s/\.sst$//')
BYTE=$(od -An -tu1 -j100 -N1 "$VICTIM" | tr -d ' ')
# shellcheck disable=SC2059 # the format is the octal escape of the flipped byte
printf "\\$(printf '%o' $((BYTE ^ 1)))" | dd of="$VICTIM" bs=1 seek=100 conv=notrunc 2>/dev/null
checks=$((checks + 1))
[ "$(od -An -tu1 -j100 -N1 "$VICTIM" | tr -d ' ')" = $((BYTE ^ 1)) ] || fail "could not flip a byte of $VICTIM"
run 3 "$DAMAGED" verify
has_line "table '$VICTIM': lsmt: table $VICTIM_NUMBER: block at offset 0: checksum mismatch"
has_match "verified [0-9]+ tables?, [0-9]+ entries, [0-9]+ bytes: 1 problem"
checks=$((checks + 1))
[ "$(wc -l <"$WORK/out" | tr -d ' ')" = 2 ] || fail "$last: expected one problem line and the summary"

# ---- repair: a lost MANIFEST, then the damaged copy above -------------------------------------
REP=$WORK/rep
cp -r "$DB" "$REP"
rm "$REP/MANIFEST"
run 3 "$REP" get key0001  # tables but no MANIFEST: the store does not open
run 0 repair "$REP"
err_empty
has_match "repaired '$REP': [0-9]+ tables merged whole, [0-9]+ batches from [0-9]+ logs; wrote [0-9]+ tables, [0-9]+ entries: nothing lost"
run 0 "$REP" get key0001
out_is value0001
run 0 "$REP" verify
run 3 repair "$DAMAGED"
has_match "lost: table '$VICTIM': .*checksum mismatch.*were kept"
has_match "repaired '$DAMAGED': .*; damaged files were moved to lost/"
checks=$((checks + 1))
[ -f "$DAMAGED/lost/${VICTIM##*/}" ] || fail "$last did not move ${VICTIM##*/} to lost/"
run 0 "$DAMAGED" verify
# Repair keeps the range deletions of tables and of logs.
rm "$WORK/rep-rd/MANIFEST"
run 0 repair "$WORK/rep-rd"
has_match "repaired '$WORK/rep-rd': .*: nothing lost"
run 1 "$WORK/rep-rd" get key0020
run 1 "$WORK/rep-rd" get key0042
run 0 "$WORK/rep-rd" get key0025
out_is again
run 2 "$DB" repair
err_has "repair takes no DIR"
run 2 repair
err_has "usage: lsmt repair DIR"

# ---- checkpoint -------------------------------------------------------------------------------
run 0 "$DB" put cp-key cp-value  # only in the log: the checkpoint's open must replay it
run 0 "$DB" checkpoint "$WORK/cp"
err_empty
out_is "checkpoint written to '$WORK/cp'"
checks=$((checks + 1))
[ -f "$WORK/cp/MANIFEST" ] || fail "$last: $WORK/cp has no MANIFEST"
run 0 "$DB" scan
cp "$WORK/out" "$WORK/scan-db"
run 0 "$WORK/cp" scan
checks=$((checks + 1))
cmp -s "$WORK/scan-db" "$WORK/out" || fail "$last: differs from the store's scan"
has_line "cp-key${T}cp-value" "key1999${T}value1999"
run 0 "$WORK/cp" get cp-key
out_is cp-value
run 0 --hex "$WORK/cp" get 0062696eff
out_is 01022062696e
run 1 "$WORK/cp" get key0005
run 0 "$WORK/cp" verify
has_match "verified [0-9]+ tables?, 1973 entries, [0-9]+ bytes: ok"
run 3 "$DB" checkpoint "$WORK/cp"  # DEST exists
err_has "already exists"
run 0 "$DB" get key0001  # the store is unharmed
out_is value0001

# ---- a directory without a store: only put and del create one --------------------------------
for cmd in "get k" "delrange a b" "scan" "stats" "sstables" "compact" "compact --from a" "size" "verify" \
  "checkpoint $WORK/cp2"; do
  # shellcheck disable=SC2086 # the subcommand and its argument are two words
  run 3 "$WORK/none" $cmd
  err_has "lsmt: no store in '$WORK/none'"
  checks=$((checks + 1))
  [ ! -e "$WORK/none" ] || fail "$last created $WORK/none"
done
checks=$((checks + 1))
[ ! -e "$WORK/cp2" ] || fail "a checkpoint of no store created $WORK/cp2"
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
run 2 "$DB" delrange a
err_has "usage: lsmt [--hex] DIR delrange BEGIN END"
run 2 "$DB" delrange b a  # swapped: an empty range
err_has "lsmt: the range [BEGIN, END) is empty: BEGIN must sort before END"
run 2 "$DB" delrange a a
err_has "is empty"
run 2 --hex "$DB" delrange 61 zz
err_has "END 'zz' is not hex"
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
run 2 "$DB" size --sideways
err_has "unknown size option '--sideways'"
run 2 "$DB" compact --from
err_has "--from needs a value"
run 2 --hex "$DB" compact --to zz
err_has "--to key 'zz' is not hex"
run 2 "$DB" size key0001
err_has "usage: lsmt [--hex] DIR size [--from K] [--to K]"
run 2 "$DB" verify extra
err_has "unexpected argument 'extra'"
run 2 "$DB" sstables extra
run 2 "$DB" checkpoint
err_has "usage: lsmt DIR checkpoint DEST"
run 2 "$DB" destroy
err_has "destroy takes no DIR: lsmt destroy DIR"
run 2 destroy
err_has "usage: lsmt destroy DIR"
run 2 destroy "$DB" extra
checks=$((checks + 1))
[ -f "$DB/MANIFEST" ] || fail "$last removed the store"

# ---- destroy: lsmt's files only, and the directory if that empties it -------------------------
cp -r "$DB" "$WORK/kept"
echo 'not lsmt' >"$WORK/kept/notes.txt"
run 0 destroy "$WORK/kept"
err_empty
out_is "destroyed the store in '$WORK/kept'; the directory stays: it holds other files"
checks=$((checks + 1))
set -- "$WORK/kept"/*
[ "$*" = "$WORK/kept/notes.txt" ] || fail "$last: left $*"
run 0 destroy "$WORK/kept"  # no MANIFEST now: nothing is removed
out_is "no store in '$WORK/kept' (it has no MANIFEST): nothing removed"
checks=$((checks + 1))
[ -f "$WORK/kept/notes.txt" ] || fail "$last removed notes.txt"
run 0 destroy "$WORK/cp"
out_is "destroyed the store in '$WORK/cp' and removed the directory"
checks=$((checks + 1))
[ ! -e "$WORK/cp" ] || fail "$last: $WORK/cp is still there"
run 0 destroy "$DB"
err_empty
out_is "destroyed the store in '$DB' and removed the directory"
checks=$((checks + 1))
[ ! -e "$DB" ] || fail "$last: $DB is still there"
run 3 "$DB" get key0001
err_has "lsmt: no store in '$DB'"

# ---- help ---------------------------------------------------------------------------------------
run 0 --help
err_empty
has_line "Usage:" "  lsmt [--hex] DIR get KEY" "  lsmt [--hex] DIR put KEY VALUE" \
  "  lsmt [--hex] DIR del KEY" "  lsmt [--hex] DIR delrange BEGIN END" \
  "  lsmt [--hex] DIR scan [--from K] [--to K] [--limit N] [--reverse]" \
  "  lsmt DIR stats" "  lsmt DIR sstables" "  lsmt [--hex] DIR compact [--from K] [--to K]" \
  "  lsmt [--hex] DIR size [--from K] [--to K]" "  lsmt DIR verify" "  lsmt DIR checkpoint DEST" \
  "  lsmt [--hex] dump FILE" "  lsmt repair DIR" "  lsmt destroy DIR" "  lsmt --help" "Exit codes:"
has_match "  0  success" "  1  get: the key is absent" "  2  usage error: .*" "  3  an lsmt error .*" \
  "     stderr\. verify, repair: problems were found \(they are on stdout\)"
run 0 -h
has_line "Usage:"

# ---- the result ---------------------------------------------------------------------------------
if [ "$failures" -ne 0 ]; then
  echo "$failures of $checks checks failed (the files are in $WORK)"
  exit 1
fi
echo "all $checks checks passed"
rm -rf "$WORK"
