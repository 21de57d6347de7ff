// `dotnet stepdpo` in a clone of the repository: runs the tool that `./build.sh Compile` built in this clone (the path
// it recorded in artifacts/tool/cli.txt), with the same arguments, input and output, and returns its exit code.
using System.Diagnostics;

string? root = Clone(Environment.CurrentDirectory);
if (root is null)
    return Fail("dotnet stepdpo: not inside a clone of the StepDpo repository (elsewhere, install the tool: dotnet tool install -g StepDpo)");
string record = Path.Combine(root, "artifacts", "tool", "cli.txt");
string? cli = File.Exists(record) ? File.ReadAllText(record).Trim() : null;
if (cli is null || !File.Exists(cli))
    return Fail($"dotnet stepdpo: the tool is not built in {root}: run ./build.sh Compile there");

// The launcher runs on the dotnet host that started it; the child gets the same one.
var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { UseShellExecute = false };
start.ArgumentList.Add(cli);
foreach (var a in args) start.ArgumentList.Add(a);
using var child = Process.Start(start)!;
Console.CancelKeyPress += (_, e) => e.Cancel = true; // Ctrl+C reaches the child too; it decides how to stop
child.WaitForExit();
return child.ExitCode;

// The clone holding the current folder: the closest folder up with the solution and the tool's project.
static string? Clone(string from)
{
    for (var d = new DirectoryInfo(from); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "StepDpo.sln")) && Directory.Exists(Path.Combine(d.FullName, "src", "StepDpo.Cli")))
            return d.FullName;
    return null;
}

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 2;
}
