#!/usr/bin/env bash
# StepDpo GPU check, runnable without .NET: this folder is a self-contained linux-x64 publish of tests/StepDpo.GpuCheck
# (`./build.sh GpuCheck` writes it to artifacts/gpu-check/ and runs it). It carries TorchSharp's managed code and its
# native glue (libLibTorchSharp.so, patched to load on older libstdc++) but no libtorch: it uses the one this script finds.
#
# On a CUDA machine that has PyTorch's pip package and no .NET:
#   1. Where .NET is:   ./build.sh GpuCheck --gpu-check "--publish-only"   then copy artifacts/gpu-check/ over (tar/scp).
#   2. There:           pip install torch==2.10.*        (TorchSharp 0.107 is built against libtorch 2.10.0; the C++ ABI
#                                                          of other versions differs and the glue will not load)
#                       ./run.sh                          (= ./run.sh --device cuda; add --device cuda:1, --steps 10, ...)
# How TorchSharp finds libtorch: for the CUDA backend it asks the .NET loader for "torch_cuda" and then "LibTorchSharp"
# (NativeLibrary.TryLoad relative to TorchSharp.dll): the app folder first, then the system loader, which searches
# LD_LIBRARY_PATH. This folder has no libtorch of its own, so LD_LIBRARY_PATH=<site-packages>/torch/lib makes it load
# PyTorch's libtorch_cuda.so / libtorch_cpu.so / libc10.so; libtorch_cuda.so finds the NVIDIA libraries of the pip
# wheels (cuBLAS, cuDNN, ...) through its own RPATH, and libLibTorchSharp.so's libtorch.so / libc10.so / libtorch_cpu.so
# resolve to the copies already loaded.
# Choosing another libtorch: STEPDPO_LIBTORCH=/path/to/libtorch/lib ./run.sh. Without PyTorch this falls back to the
# NuGet libtorch-cpu package in ~/.nuget (CPU only: enough for `./run.sh --device cpu --small` on a build machine).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ "${1:-}" == "--publish-only" ]]; then echo "published to $here"; exit 0; fi

libtorch="${STEPDPO_LIBTORCH:-}"
if [[ -z "$libtorch" ]] && command -v python3 >/dev/null 2>&1; then
  if info=$(python3 -c 'import os, torch; print(torch.__version__, os.path.join(os.path.dirname(torch.__file__), "lib"), torch.version.cuda, torch._C._GLIBCXX_USE_CXX11_ABI)' 2>/dev/null); then
    read -r version lib cuda_version cxx11 <<<"$info"
    echo "PyTorch $version (CUDA $cuda_version, C++11 ABI $cxx11) at $lib"
    case "$version" in
      2.10.*) ;;
      *) echo "warning: TorchSharp 0.107 needs libtorch 2.10.x; PyTorch $version will probably fail to load (pip install torch==2.10.*)" >&2 ;;
    esac
    libtorch="$lib"
  fi
fi
if [[ -z "$libtorch" ]]; then
  nuget="${NUGET_PACKAGES:-$HOME/.nuget/packages}/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native"
  if [[ -d "$nuget" ]]; then
    echo "no PyTorch found: using the CPU-only libtorch of the NuGet cache ($nuget)"
    libtorch="$nuget"
  else
    echo "error: no libtorch found. Install PyTorch 2.10 (pip install torch==2.10.*) or set STEPDPO_LIBTORCH to a libtorch/lib folder." >&2
    exit 2
  fi
fi
[[ -f "$libtorch/libtorch_cpu.so" ]] || { echo "error: $libtorch has no libtorch_cpu.so" >&2; exit 2; }

export LD_LIBRARY_PATH="$libtorch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1
args=("$@")
[[ " ${args[*]-} " == *" --device "* ]] || args+=(--device cuda)
exec "$here/StepDpo.GpuCheck" "${args[@]}"
