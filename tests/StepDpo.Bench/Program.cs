if (args is ["synthetic", ..]) return SyntheticBench.Run(args[1..]);
return 0;
