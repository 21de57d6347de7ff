using System.Diagnostics;
using StepDpo.Core.Artifacts;

namespace StepDpo.Core.Tests;

public class AtomicFileTests
{
    [Fact]
    public void A_temp_left_by_a_killed_writer_is_removed_and_a_live_writers_is_kept()
    {
        string dir = Path.Combine(Path.GetTempPath(), "stepdpo-atomic-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "pairs.jsonl");
            using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
            gone.WaitForExit();
            string dead = $"{path}.tmp-{gone.Id}-0123", live = $"{path}.tmp-1-4567", other = Path.Combine(dir, "x.jsonl.tmp-" + gone.Id + "-89");
            foreach (var f in new[] { dead, live, other }) File.WriteAllText(f, "half");

            AtomicFile.WriteAllText(path, "whole\n");

            Assert.Equal("whole\n", File.ReadAllText(path));
            Assert.False(File.Exists(dead), "the killed writer's temp is left");
            Assert.True(File.Exists(live), "a running process's temp must stay (pid 1 is alive)");
            Assert.True(File.Exists(other), "another file's temp is not this write's business");
        }
        finally { Directory.Delete(dir, true); }
    }
}
