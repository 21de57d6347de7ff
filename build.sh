#!/usr/bin/env bash
# StepDpo front door. With no arguments: the tiny experiment end to end.
#   ./build.sh [TARGET] [--experiment NAME] [--set KEY=VALUE]... [--force STAGE]... [--torch cpu|cuda]
#              [--configuration Release|Debug] [--gpu-check ARGS] [--help]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

usage() {
  cat <<'TXT'
usage: ./build.sh [TARGET] [options]

targets:
  Run         the whole experiment: sft, sample, verify, pairs, train, evaluate, report (default)
  Sft Sample Verify Pairs Train Evaluate Report
              run the experiment up to that stage (complete stages are cached and skipped)
  Reproduce   Run, then fail with a table if a metric misses its `expect` threshold
  Plan        show each stage as cached / stale / missing, and why
  Compile     build the solution
  Test        build and run all tests
  Pack        pack the dotnet tool (artifacts/packages) and restore it as the repo's local tool
  Bench       run the benchmarks (Release)
  GpuCheck    publish the GPU check to artifacts/gpu-check/ and run it (every hot path on CUDA against the CPU, then a
              Step-DPO step at Qwen2-0.5B's shapes: tokens/s, MFU, peak memory); see artifacts/gpu-check/run.sh

options:
  -e, --experiment NAME   experiments/NAME.yaml or a manifest path (default: tiny)
  --set KEY=VALUE         override a manifest value, e.g. --set train.beta=0.3 (repeatable)
  --force STAGE           rerun STAGE and everything after it (repeatable)
  --torch cpu|cuda        TorchSharp backend (default cpu; cuda needs the TorchSharp-cuda-linux package)
  -c, --configuration C   Release (default) or Debug
  --bench ARGS            arguments for the Bench target
  --gpu-check ARGS        arguments for GpuCheck (default --device cuda; --publish-only, --device cpu --small, --steps N)
  -h, --help              this text
TXT
}

target=Run experiment=tiny torch=cpu configuration=Release args="" bench="" gpucheck=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -e|--experiment) experiment="${2:?--experiment needs a name}"; shift 2 ;;
    --set) args+=" --set ${2:?--set needs KEY=VALUE}"; shift 2 ;;
    --force) args+=" --force ${2:?--force needs a stage}"; shift 2 ;;
    --torch) torch="${2:?--torch needs cpu or cuda}"; shift 2 ;;
    -c|--configuration) configuration="${2:?}"; shift 2 ;;
    --bench) bench="${2:-}"; shift 2 ;;
    --gpu-check) gpucheck="${2:-}"; shift 2 ;;
    -*) echo "error: unknown option $1 (see ./build.sh --help)" >&2; exit 2 ;;
    *) target="$1"; shift ;;
  esac
done
case "$target" in
  Run|Sft|Sample|Verify|Pairs|Train|Evaluate|Report|Reproduce|Plan|Compile|Test|Pack|Bench|GpuCheck) ;;
  *) echo "error: unknown target '$target' (see ./build.sh --help)" >&2; exit 2 ;;
esac
case "$torch" in cpu|cuda) ;; *) echo "error: --torch takes cpu or cuda" >&2; exit 2 ;; esac

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET SDK 10 is required but 'dotnet' is not on PATH. Install it from https://dot.net (or your package manager), then rerun." >&2
  exit 1
fi
sdk_major=$(dotnet --version 2>/dev/null | cut -d. -f1)
if [[ -z "$sdk_major" || "$sdk_major" -lt 10 ]]; then
  echo "error: the .NET SDK 10 or newer is required (found $(dotnet --version 2>/dev/null || echo none))." >&2
  exit 1
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# ';' separates MSBuild properties: keep it inside values.
args="${args//;/%3B}"
exec dotnet msbuild build/Build.proj -nologo -tl:off -v:m -t:"$target" \
  -p:Experiment="$experiment" -p:TorchBackend="$torch" -p:Configuration="$configuration" \
  -p:Args="$args" -p:BenchArgs="$bench" -p:GpuCheckArgs="$gpucheck"
