#!/usr/bin/env bash
# The command line: wrap any command, watch a pipe, send a push.
# Needs ACTIVITYSMITH_API_KEY (or `livebar simulate` plus ACTIVITYSMITH_BASE_URL=http://127.0.0.1:8787/api).
set -euo pipefail

# Run a command: output passes through untouched; the exit code decides done / failed and is
# livebar's own exit code. "NN%" lines move the bar.
livebar run --title "Build" --progress-regex '([0-9]+)%' -- \
    python -c 'import time
for i in range(0, 101, 10):
    print(f"{i}%", flush=True); time.sleep(0.2)'

# Stages: a line matching --step-regex starts the stage it names.
livebar run --title "Deploy" --steps build,test,ship --step-regex '^==> (\w+)' -- \
    sh -c 'echo "==> build"; sleep 1; echo "==> test"; sleep 1; echo "==> ship"; sleep 1'

# Pipe mode: stdin to stdout, byte for byte, counting lines (or --bytes).
python -c 'for i in range(1_000_000): print(i, "row", sep=",")' \
    | livebar --total 1000000 --title "Import rows" \
    | wc -l

# A push notification when it is all over.
livebar push --title "Nightly job" --message "build, deploy and import finished"
