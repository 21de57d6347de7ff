if (args is ["synthetic", ..]) return SyntheticBench.Run(args[1..]);
if (args is ["trainer", ..]) { TrainerBench.Run(args[1..]); return 0; }
return 0;
