// Benchmarks: `./build.sh Bench --bench "SUITE [ARGS]"` or `dotnet run -c Release --project tests/StepDpo.Bench -- SUITE [ARGS]`.
// Each suite measures against a baseline in the same run and prints ratios.
using StepDpo.Bench;
using StepDpo.Bench.Peers;
using StepDpo.Bench.Probes;
using StepDpo.Bench.Stages;

StepDpo.Torch.Devices.CpuRuntime.Apply(); // as the tool does, before anything loads libtorch

var suites = new Dictionary<string, (string What, Func<string[], Task<int>> Run)>
{
    ["peers"] = ("StepDpo vs PyTorch eager on the same shapes: SFT, Step-DPO (both layouts), reference pass, prefill, decode", a => Task.FromResult(PeerBench.Run(a))),
    ["scheduling"] = ("the pairs stage's rectification, static batches vs continuous batching: tokens/s (real model and records)", a => Task.FromResult(SchedulingBench.Run(a))),
    ["grading"] = ("judgements/s on MATH-500 and GSM8K, self-consistency, stepdpo vs hendrycks", a => Sync(() => GradingBench.Run(a))),
    ["tokenizer"] = ("encode/decode tokens/s against Microsoft.ML.Tokenizers", a => Sync(() => TokenizerBench.Run(a))),
    ["generation"] = ("prefill and decode tokens/s at batch 1/8/32, KV cache vs none, memory", a => Sync(() => GenerationBench.Run(a))),
    ["attention"] = ("SDPA causal flag vs explicit mask for unpacked rows: attention alone and the model forward/backward", a => Sync(() => AttentionBench.Run(a))),
    ["trainer"] = ("shared-prefix vs two-sequence forward+backward, activation checkpointing memory", a => Sync(() => TrainerBench.Run(a))),
    ["synthetic"] = ("synthetic world generation speed and lengths", a => Task.FromResult(SyntheticBench.Run(a))),
    ["rollout"] = ("binary-search vs linear rollout localisation cost", a => RolloutBench.RunAsync(a.Length > 0 ? a[0] : SharedSamples(), 8)),
    ["openai"] = ("completions client throughput against a loopback server", a => OpenAiClientBench.RunAsync(a.Length > 0 ? int.Parse(a[0]) : 2000)),
    ["serve"] = ("stepdpo serve: start-to-ready, req/s and tokens/s at concurrency 1 and 16 vs the engine in process", ServeBench.RunAsync),
    ["memory"] = ("memory plan vs measured peak of a training step, three model sizes, full / checkpointing / LoRA", a => Sync(() => MemoryPlanBench.Run(a))),
    ["checkpoint"] = ("peak host memory to load a bf16 checkpoint, as a multiple of its size", a => Sync(() => CheckpointBench.Run(a))),
    ["realshapes"] = ("Qwen2-0.5B shapes: Step-DPO step, reference pass, generation: time, tokens/s, peak vs plan", a => Sync(() => RealShapesBench.Run(a))),
};
// A child process of the memory benchmarks: measures one piece of work in a fresh address space (Probes/MemoryProbe.cs).
if (args is ["probe", ..]) return ProbeScenarios.Run(args[1..]);

if (args.Length == 0 || !suites.ContainsKey(args[0]))
{
    Console.WriteLine("usage: StepDpo.Bench SUITE [ARGS]   (or `all`)");
    foreach (var (name, (what, _)) in suites) Console.WriteLine($"  {name,-11} {what}");
    if (args is ["all"])
    {
        foreach (var (name, (_, run)) in suites)
        {
            Console.WriteLine($"\n== {name}");
            if (await run(Array.Empty<string>()) != 0) return 1;
        }
        return 0;
    }
    return args.Length == 0 ? 0 : 2;
}
return await suites[args[0]].Run(args[1..]);

static Task<int> Sync(Action run)
{
    run();
    return Task.FromResult(0);
}

static string SharedSamples()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (Directory.Exists(Path.Combine(d.FullName, "shared", "data", "samples"))) return Path.Combine(d.FullName, "shared", "data", "samples");
    return "/work/shared/data/samples";
}
