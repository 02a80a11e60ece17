#!/usr/bin/env bash
# Times GNU tar -xf against the import floors (extract.mjs, extract-threads.mjs with N workers), with and without one
# filesystem sync at the end, and prints a table. Re-runnable by anyone: bash bench/floors/measure-threads.sh
#
# Rules it follows (each learned the hard way on this VM):
# - every row writes into a FRESH folder under one parent /tmp/wb-floor-<timestamp>/; nothing is removed until all
#   rows are done (on this ext4 without a journal, file creation slows down for minutes after a large removal);
# - `sync` before each row, so no row pays for the previous row's write-back;
# - rows take turns (tar, floor, threads, tar, ...) and the best of ROUNDS is kept, since the host's memory bandwidth
#   and the other tenants drift; only compare rows of the same run;
# - the whole script holds flock /tmp/wl-cpu.lock (fd 9, inherited by every timed run), so it does not overlap with
#   others' heavy work.
# Env: TREES="nanoserver-1:3 servercore-1:2" (tar name in /tmp/winlayer-bench : rounds), NS="1 2 3", KEEP=1 keeps
# the extracted folders, EXTRA_ROWS="label|args for extract-threads.mjs;..." adds variant rows.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=/tmp/winlayer-bench
TREES=${TREES:-"nanoserver-1:3 servercore-1:2"}
NS=${NS:-"1 2 3"}
PARENT=/tmp/wb-floor-$(date +%s)
mkdir "$PARENT"
exec 9>>/tmp/wl-cpu.lock
flock 9

# rows: label|shell command, OUT = fresh target folder (must not exist), TAR = the layer tar
ROWS=(
  'tar -xf|mkdir "$OUT" && tar -xf "$TAR" -C "$OUT" 2>/dev/null'
  'tar -xf; sync -f|mkdir "$OUT" && tar -xf "$TAR" -C "$OUT" 2>/dev/null; sync -f "$OUT"'
  'extract.mjs|node bench/floors/extract.mjs "$TAR" "$OUT"'
  'extract.mjs; sync -f|node bench/floors/extract.mjs "$TAR" "$OUT"; sync -f "$OUT"'
)
for n in $NS; do
  ROWS+=("threads N=$n|node bench/floors/extract-threads.mjs \"\$TAR\" \"\$OUT\" $n")
  ROWS+=("threads N=$n --sync|node bench/floors/extract-threads.mjs \"\$TAR\" \"\$OUT\" $n --sync")
done
IFS=';' read -r -a extra <<<"${EXTRA_ROWS:-}"
for e in "${extra[@]}"; do
  [ -n "$e" ] && ROWS+=("${e%%|*}|node bench/floors/extract-threads.mjs \"\$TAR\" \"\$OUT\" ${e#*|}")
done

declare -A best user sys
for spec in $TREES; do
  tree=${spec%%:*}
  rounds=${spec##*:}
  TAR=$SRC/$tree.tar
  for ((r = 1; r <= rounds; r++)); do
    for i in "${!ROWS[@]}"; do
      cmd=${ROWS[$i]#*|}
      OUT=$PARENT/$tree-r$r-$i
      sync
      TAR=$TAR OUT=$OUT /usr/bin/time -o "$PARENT/.time" -f '%e %U %S' bash -c "$cmd" >/dev/null 2>&1
      read -r e u s <"$PARENT/.time"
      k=$tree/$i
      if [ -z "${best[$k]:-}" ] || awk "BEGIN{exit !($e < ${best[$k]})}"; then
        best[$k]=$e user[$k]=$u sys[$k]=$s
      fi
      echo "# $tree round $r ${ROWS[$i]%%|*}: $e s (user $u, sys $s)" >&2
    done
  done
done

# Correctness: the threads tree (N=2, last round) against tar's, contents and file mtimes (Node's futimes keeps
# microseconds, tar nanoseconds: equal within 2 µs).
for spec in $TREES; do
  tree=${spec%%:*}
  rounds=${spec##*:}
  for i in "${!ROWS[@]}"; do
    [[ ${ROWS[$i]%%|*} == 'threads N=2' ]] || continue
    a=$PARENT/$tree-r$rounds-0
    b=$PARENT/$tree-r$rounds-$i
    verdict=ok
    diff -r "$a" "$b" >/dev/null || verdict='CONTENT DIFFERS'
    (cd "$a" && find . -type f -printf '%P %T@\n' | sort) >"$PARENT/$tree.mt-tar"
    (cd "$b" && find . -type f -printf '%P %T@\n' | sort) >"$PARENT/$tree.mt-threads"
    bad=$(join "$PARENT/$tree.mt-tar" "$PARENT/$tree.mt-threads" |
      awk '{d = $2 - $3; if (d < 0) d = -d; if (d > 2e-6) n++} END {print n + 0}')
    [ "$(wc -l <"$PARENT/$tree.mt-tar")" = "$(wc -l <"$PARENT/$tree.mt-threads")" ] || verdict='FILE LIST DIFFERS'
    [ "$bad" = 0 ] || verdict="$verdict, $bad MTIMES DIFFER"
    echo "# check $tree threads N=2 vs tar -xf: $verdict" >&2
  done
done

printf '\n| tree | row | best s | × tar -xf | × tar -xf; sync -f | user s | sys s |\n|---|---|---|---|---|---|---|\n'
for spec in $TREES; do
  tree=${spec%%:*}
  for i in "${!ROWS[@]}"; do
    k=$tree/$i
    awk -v t="$tree" -v l="${ROWS[$i]%%|*}" -v e="${best[$k]}" -v a="${best[$tree/0]}" -v b="${best[$tree/1]}" \
      -v u="${user[$k]}" -v s="${sys[$k]}" \
      'BEGIN{printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", t, l, e, e / a, e / b, u, s}'
  done
done

if [ -z "${KEEP:-}" ]; then rm -rf "$PARENT"; else echo "kept $PARENT" >&2; fi
