#!/bin/bash
# Alternated before/after rounds of bench_sms.py on both databases, with the load beside.
#   bench/bench_sms_rounds.sh BEFORE_WORKTREE AFTER_WORKTREE [ROUNDS]
# Each round runs both trees back to back on SQLite, then on PostgreSQL; odd rounds run
# BEFORE first, even rounds AFTER first. One line per run: ratio, campaign and bare
# messages/s, CPU per 1,000 messages campaign/bare, first message after (s), resident
# memory before/peak (MB), receipts recorded.
set -u
before=$1; after=$2; rounds=${3:-5}
for r in $(seq 1 "$rounds"); do
  for db in sqlite postgres; do
    arg=""; [ "$db" = postgres ] && arg=--postgres
    if [ $((r % 2)) = 1 ]; then order="$before $after"; else order="$after $before"; fi
    for tree in $order; do
      load=$(cut -d' ' -f1-3 /proc/loadavg)
      res=$(cd "$tree" && PYTHONPATH=$PWD .venv/bin/python bench/bench_sms.py $arg 2>&1)
      ratio=$(echo "$res" | awk '/^ratio/{print $2}')
      camp=$(echo "$res" | awk '/^campaign /{print $2}')
      bare=$(echo "$res" | awk '/^bare aiosmpplib/{print $3}')
      cpu=$(echo "$res" | awk '/^CPU per 1,000/{print $4"/"$(NF-2)}')
      first=$(echo "$res" | awk '/^first message/{print $4}')
      mem=$(echo "$res" | awk '/^resident memory/{print $3"/"$7}')
      got=$(echo "$res" | grep -o "delivered=[0-9]*")
      echo "round=$r db=$db tree=$tree load=[$load] ratio=$ratio campaign=$camp bare=$bare cpu=$cpu first=$first mem=$mem $got"
    done
  done
done
