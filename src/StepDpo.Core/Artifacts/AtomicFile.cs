using System.Text;

namespace StepDpo.Core.Artifacts;

/// <summary>Writes that are never seen half-done: write a sibling temp file, flush it to disk, rename over the target.
/// Every file the tool writes whole (artifacts, summaries, reports, exports, command outputs) goes through here.</summary>
public static class AtomicFile
{
    static readonly UTF8Encoding Utf8 = new(false);

    public static void WriteAllText(string path, string text) => Write(path, s => s.Write(Utf8.GetBytes(text)));

    /// <summary>UTF-8 text (no BOM) with "\n" line ends, written through <paramref name="write"/>.</summary>
    public static void WriteText(string path, Action<TextWriter> write) => Write(path, s =>
    {
        using var writer = new StreamWriter(s, Utf8, leaveOpen: true) { NewLine = "\n" };
        write(writer);
    });

    public static void WriteLines(string path, IEnumerable<string> lines) => WriteText(path, w =>
    {
        foreach (var line in lines) w.WriteLine(line);
    });

    public static void Write(string path, Action<Stream> write)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        RemoveLeftTemps(path);
        string temp = $"{path}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Removes the temp files of <paramref name="path"/> that writers killed midway left (their process is gone):
    /// a resumed stage would otherwise carry them into its finished folder (found by the stage kill tests).</summary>
    static void RemoveLeftTemps(string path)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!, prefix = Path.GetFileName(path) + ".tmp-";
        foreach (var temp in Directory.EnumerateFiles(dir, prefix + "*"))
        {
            var rest = Path.GetFileName(temp)[prefix.Length..];
            int dash = rest.IndexOf('-');
            if (dash > 0 && int.TryParse(rest[..dash], out int pid) && pid != Environment.ProcessId && !IsRunning(pid))
                File.Delete(temp);
        }
    }

    static bool IsRunning(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; } // no such process
        catch (InvalidOperationException) { return false; }
    }
}
