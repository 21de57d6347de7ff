using Spectre.Console.Cli;
using StepDpo.Cli.Commands;

// `dotnet stepdpo <command>`: every command is registered in Commands/Registry.cs.
var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("stepdpo");
    config.SetApplicationVersion(StepDpo.Cli.ToolInfo.Version);
    Registry.Register(config);
    // Bad input gets a one-line message and a non-zero exit, never a stack trace.
    config.SetExceptionHandler((ex, _) => ErrorReport.Print(ex));
});
return app.Run(ArgumentAliases.Normalize(args));
