using System.Text;
using StepDpo.Core;

namespace StepDpo.Stages.Tests.Records;

public class JsonlRecordStoreTests
{
    static SampleRow Row(string problem, int i) => new($"{problem}#{i}", problem, i, $"text of {problem} {i}\nwith a line break", "stop");

    [Fact]
    public void Appended_records_are_found_again_after_reopening()
    {
        using var dir = new TempDir();
        var path = dir.File("samples.jsonl");
        using (var store = SamplingFixture.OpenStore(path))
        {
            Assert.Equal(new(0, 0), store.Recovery);
            store.Append(Row("a", 0));
            store.AppendBatch([Row("a", 1), Row("b", 0)]);
        }
        // A record with a line break in its text still takes exactly one line.
        Assert.Equal(3, File.ReadAllLines(path).Length);
        using var reopened = SamplingFixture.OpenStore(path);
        Assert.Equal(new(3, 0), reopened.Recovery);
        Assert.True(reopened.IsDone("a#1"));
        Assert.False(reopened.IsDone("b#1"));
        Assert.Equal(Row("a", 0), reopened.Records()[0]);
    }

    [Fact]
    public void A_torn_last_line_is_cut_off_and_the_next_append_starts_clean()
    {
        using var dir = new TempDir();
        var path = dir.File("samples.jsonl");
        using (var store = SamplingFixture.OpenStore(path)) store.AppendBatch([Row("a", 0), Row("a", 1)]);
        var whole = File.ReadAllBytes(path);
        var firstLineEnd = Array.IndexOf(whole, (byte)'\n') + 1;
        // A writer killed half-way through the second line.
        File.WriteAllBytes(path, whole[..(firstLineEnd + 17)]);

        using (var store = SamplingFixture.OpenStore(path))
        {
            Assert.Equal(new(1, 17), store.Recovery);
            Assert.False(store.IsDone("a#1"));
            store.Append(Row("a", 1));
        }
        Assert.Equal(whole, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_broken_line_in_the_middle_is_an_error_naming_file_and_line()
    {
        using var dir = new TempDir();
        var path = dir.File("samples.jsonl");
        using (var store = SamplingFixture.OpenStore(path)) store.AppendBatch([Row("a", 0), Row("a", 1)]);
        var lines = File.ReadAllLines(path);
        File.WriteAllText(path, lines[0] + "\n{\"key\": oops\n" + lines[1] + "\n");

        var error = Assert.Throws<StepDpoException>(() => SamplingFixture.OpenStore(path));
        Assert.Contains($"{path}:2:", error.Message);
    }

    [Fact]
    public void A_duplicated_key_in_the_file_is_an_error_and_appending_one_is_refused()
    {
        using var dir = new TempDir();
        var path = dir.File("samples.jsonl");
        using (var store = SamplingFixture.OpenStore(path))
        {
            store.Append(Row("a", 0));
            Assert.Throws<InvalidOperationException>(() => store.Append(Row("a", 0)));
            Assert.Throws<InvalidOperationException>(() => store.AppendBatch([Row("a", 1), Row("a", 1)]));
            Assert.Equal(1, store.Count);
        }
        Assert.Single(File.ReadAllLines(path));
        File.AppendAllText(path, File.ReadAllText(path));
        var error = Assert.Throws<StepDpoException>(() => SamplingFixture.OpenStore(path));
        Assert.Contains(":2:", error.Message);
        Assert.Contains("'a#0' appears twice", error.Message);
    }

    [Fact]
    public void A_second_writer_on_the_same_file_is_refused()
    {
        using var dir = new TempDir();
        var path = dir.File("samples.jsonl");
        using var first = SamplingFixture.OpenStore(path);
        var error = Assert.Throws<StepDpoException>(() => SamplingFixture.OpenStore(path));
        Assert.Contains("already open", error.Message);
        first.Dispose();
        using var second = SamplingFixture.OpenStore(path);
    }

    [Fact]
    public void Concurrent_appends_from_many_threads_give_whole_lines()
    {
        using var dir = new TempDir();
        var path = dir.File("samples.jsonl");
        using (var store = SamplingFixture.OpenStore(path))
            Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => store.Append(Row($"p{i % 40}", i / 40)));
        var rows = SamplingFixture.AssertComplete(path, problems: 40, n: 10);
        Assert.Equal(400, rows.Select(r => r.Key).Distinct().Count());
        Assert.DoesNotContain(File.ReadAllText(path, Encoding.UTF8).Split('\n')[..^1], string.IsNullOrWhiteSpace);
    }
}
