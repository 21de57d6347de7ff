@echo off
rem StepDpo front door on Windows: the same targets and options as build.sh (see ./build.sh --help).
setlocal enabledelayedexpansion
cd /d "%~dp0"
set TARGET=Run
set EXPERIMENT=tiny
set TORCH=cpu
set CONFIGURATION=Release
set ARGS=
set BENCH=
:parse
if "%~1"=="" goto run
if /i "%~1"=="-h" goto help
if /i "%~1"=="--help" goto help
if /i "%~1"=="-e" (set EXPERIMENT=%~2& shift & shift & goto parse)
if /i "%~1"=="--experiment" (set EXPERIMENT=%~2& shift & shift & goto parse)
if /i "%~1"=="--set" (set ARGS=!ARGS! --set %~2& shift & shift & goto parse)
if /i "%~1"=="--force" (set ARGS=!ARGS! --force %~2& shift & shift & goto parse)
if /i "%~1"=="--torch" (set TORCH=%~2& shift & shift & goto parse)
if /i "%~1"=="-c" (set CONFIGURATION=%~2& shift & shift & goto parse)
if /i "%~1"=="--configuration" (set CONFIGURATION=%~2& shift & shift & goto parse)
if /i "%~1"=="--bench" (set BENCH=%~2& shift & shift & goto parse)
set TARGET=%~1
shift
goto parse
:help
echo usage: build.cmd [Run^|Sft^|Sample^|Verify^|Pairs^|Train^|Evaluate^|Report^|Reproduce^|Plan^|Compile^|Test^|Pack^|Bench] [--experiment NAME] [--set K=V] [--force STAGE] [--torch cpu^|cuda]
echo See build.sh --help for the full description.
exit /b 0
:run
where dotnet >nul 2>nul || (echo error: the .NET SDK 10 is required but 'dotnet' is not on PATH. Install it from https://dot.net 1>&2 & exit /b 1)
dotnet msbuild build\Build.proj -nologo -tl:off -v:m -t:%TARGET% -p:Experiment=%EXPERIMENT% -p:TorchBackend=%TORCH% -p:Configuration=%CONFIGURATION% "-p:Args=%ARGS%" "-p:BenchArgs=%BENCH%"
