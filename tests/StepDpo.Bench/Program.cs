if (args is ["synthetic", ..]) return SyntheticBench.Run(args[1..]);
if (args is ["rollout", ..]) return await StepDpo.Bench.Stages.RolloutBench.RunAsync(args.Length > 1 ? args[1] : "/work/shared/data/samples", 8);
if (args is ["openai", ..]) return await StepDpo.Bench.Stages.OpenAiClientBench.RunAsync(args.Length > 1 ? int.Parse(args[1]) : 2000);
if (args is ["trainer", ..]) { TrainerBench.Run(args[1..]); return 0; }
return 0;
