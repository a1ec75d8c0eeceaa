# plot_bench.gp - bar chart of db_bench results: ops/s per workload, one bar per engine.
#
# Usage:
#   gnuplot -e "csv='results.csv'; out='bench.png'" examples/plot_bench.gp
#
# csv: the file written by `db_bench --csv=results.csv` (header: engine,benchmark,num,threads,
#      ops_per_sec,...). Runs with --threads > 1 are shown as e.g. "fillsync/t4". If the
#      file holds several rows for the same engine and workload, the last one is drawn on top.
# out: the PNG to write (default bench.png). The y axis is logarithmic, because sequential
#      reads run ~100x faster than synced writes.

if (!exists("csv")) csv = 'results.csv'
if (!exists("out")) out = 'bench.png'

set datafile separator ','

# Workload labels ("benchmark" or "benchmark/tN") and engines, in first-seen order.
label_awk = "awk -F, 'NR > 1 { l = $2; if ($4 > 1) l = l \"/t\" $4; if (!seen[l]++) printf \"%s \", l }' "
engine_awk = "awk -F, 'NR > 1 && !seen[$1]++ { printf \"%s \", $1 }' "
labels = system(label_awk . "'" . csv . "'")
engines = system(engine_awk . "'" . csv . "'")
n_labels = words(labels)
n_engines = words(engines)
if (n_labels == 0) { print "plot_bench.gp: no rows in ", csv; exit }

# Position of a row's workload on the x axis (1-based), and of each engine's bar in a group.
row_label(b, t) = (t > 1) ? sprintf("%s/t%d", b, t) : b
label_index(l) = sum [i=1:n_labels] ((word(labels, i) eq l) ? i : 0)
bar_width = 0.8 / n_engines
bar_x(l, e) = label_index(l) - 0.4 + bar_width * (e - 0.5)

set terminal pngcairo size (300 + 90 * n_labels), 600 font ",10"
set output out
set title "db\\_bench: throughput per workload (higher is better)"
set ylabel "operations per second"
set logscale y
set format y "10^{%L}"
set grid ytics mytics
set style fill solid 0.85 border -1
set boxwidth bar_width
set key top right
set xrange [0.4 : n_labels + 0.6]
set xtics rotate by -35 nomirror
set xtics ()
set for [i=1:n_labels] xtics add (word(labels, i) i)

plot for [e=1:n_engines] csv skip 1 \
     using (bar_x(row_label(strcol(2), column(4)), e)) : \
           ((strcol(1) eq word(engines, e)) ? column(5) : NaN) \
     with boxes lc e title word(engines, e)
