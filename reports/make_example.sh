#!/usr/bin/env bash
# Regenerates the example report in reports/ on this machine:
#   reports/example-runs/smoke           rnnbench run smoke
#   reports/example-runs/compare-smoke   rnnbench compare smoke --backends numba-cpu,torch,numpy
#   reports/example.pdf                  the report of both
#   reports/example.md, example_files/   its Markdown twin, with the PNG figures
#   reports/example-page.png             page 5 of the PDF (the compare bars), for the README (needs pdftoppm, poppler-utils)
# Run it from anywhere, on a quiet machine: the timings are part of the report.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in rnnbench pdftoppm; do  # before anything is deleted
    command -v "$tool" >/dev/null || { echo "make_example.sh: $tool not found (activate the environment rnnbench is installed in; pdftoppm: poppler-utils)" >&2; exit 1; }
done
runs=reports/example-runs
rm -rf "$runs" reports/example.pdf reports/example.md reports/example_files reports/example-page.png
rnnbench run smoke -o "$runs/smoke" --no-figures
rnnbench compare smoke --backends numba-cpu,torch,numpy -o "$runs/compare-smoke"
rm -rf "$runs/compare-smoke/figures"  # the report draws its own
rnnbench report "$runs/smoke" "$runs/compare-smoke" -o reports/example.pdf
rnnbench report "$runs/smoke" "$runs/compare-smoke" -o reports/example.md
pdftoppm -png -r 80 -f 5 -l 5 -singlefile reports/example.pdf reports/example-page
