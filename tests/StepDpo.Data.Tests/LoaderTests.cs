using StepDpo.Core;

namespace StepDpo.Data.Tests;

public class LoaderTests
{
    [Fact]
    public void Gsm8k_both_layouts_give_the_number_after_hashes()
    {
        var stepdpo = DataSources.Load(new DataSpec("gsm8k", Fixture.Path("gsm8k-stepdpo.jsonl"))).ToList();
        var hf = DataSources.Load(new DataSpec("gsm8k", Fixture.Path("gsm8k-hf.jsonl"))).ToList();
        Assert.Equal(["18", "3", "70000"], stepdpo.Select(p => p.Answer));
        Assert.Equal(["18", "3", "70000"], hf.Select(p => p.Answer));
        Assert.Equal("GSM8K_0", stepdpo[0].Id);
        Assert.StartsWith("Janet", hf[0].Question);
        Assert.Contains("#### 18", hf[0].Solution);
    }

    [Fact]
    public void Math_from_the_local_math500_copy_takes_the_last_box()
    {
        var ps = DataSources.Load(new DataSpec("math500", Fixture.Path("math500-local.jsonl"))).ToList();
        Assert.Equal("\\left( 3, \\frac{\\pi}{2} \\right)", ps[0].Answer);
        Assert.Equal("p - q", ps[1].Answer);
        Assert.All(ps, p => Assert.Equal("math500", p.Source));
    }

    [Fact]
    public void Math_per_problem_folder_in_stable_order()
    {
        var ps = DataSources.Load(new DataSpec("math", Fixture.Path("math-tree"))).ToList();
        Assert.Equal(["test/algebra/1", "test/geometry/7"], ps.Select(p => p.Id));
        Assert.Equal(["2", "1"], ps.Select(p => p.Answer));
        Assert.Equal("Level 2", ps[1].Level);
        Assert.Equal("Geometry", ps[1].Subject);
    }

    [Theory]
    [InlineData("minerva_math", null)]
    [InlineData("aime24", "204")]
    [InlineData("amc23", "27")]
    [InlineData("olympiadbench", "2")]
    [InlineData("college_math", "10-4 n")]
    [InlineData("svamp", "145")]
    [InlineData("asdiv", "9")]
    [InlineData("gaokao2023en", "\\{x|-2\\leq x < 1\\}")]
    [InlineData("sat_math", "A")]
    [InlineData("mawps", "43")]
    public void Qwen_evaluation_sets(string set, string? firstAnswer)
    {
        var ps = DataSources.Load(new DataSpec("qwen25:" + set, Fixture.Path($"qwen25-{set}.jsonl"))).ToList();
        Assert.Equal(2, ps.Count);
        Assert.All(ps, p => { Assert.False(string.IsNullOrWhiteSpace(p.Question)); Assert.False(string.IsNullOrWhiteSpace(p.Answer)); });
        if (firstAnswer is not null) Assert.Equal(firstAnswer, ps[0].Answer);
        Assert.Equal("qwen25:" + set, ps[0].Source);
    }

    [Fact]
    public void Svamp_joins_body_and_question()
    {
        var p = DataSources.Load(new DataSpec("qwen25:svamp", Fixture.Path("qwen25-svamp.jsonl"))).First();
        Assert.Contains("2 groups", p.Question);
        Assert.EndsWith("How big is each group of bananas?", p.Question);
    }

    [Fact]
    public void Generic_jsonl_with_field_mapping()
    {
        using var tmp = new Fixture.TempDir();
        var path = tmp.File("mine.jsonl", """
            {"q": "1+1?", "sol": "so \\boxed{2}", "key": "a"}

            {"q": "2+2?", "sol": "so \\boxed{4}", "key": "b"}
            """);
        var ps = DataSources.Load(new DataSpec("jsonl", path, Fields: new Dictionary<string, string> { ["question"] = "q", ["solution"] = "sol", ["id"] = "key" })).ToList();
        Assert.Equal(["a", "b"], ps.Select(p => p.Id));
        Assert.Equal(["2", "4"], ps.Select(p => p.Answer));
    }

    [Fact]
    public void Errors_name_file_line_and_field()
    {
        using var tmp = new Fixture.TempDir();
        var path = tmp.File("bad.jsonl", "{\"question\": \"a\", \"answer\": \"x #### 1\"}\n{\"question\": \"b\"}\n");
        var e = Assert.Throws<DataFormatException>(() => DataSources.Load(new DataSpec("gsm8k", path)).ToList());
        Assert.Equal(2, e.Line);
        Assert.Contains("bad.jsonl:2", e.Message);
        Assert.Contains("'answer'", e.Message);
        Assert.IsAssignableFrom<StepDpoException>(e);

        var broken = tmp.File("broken.jsonl", "{\"question\": \"a\", \"answer\": \"#### 1\"}\n{oops\n");
        var e2 = Assert.Throws<DataFormatException>(() => DataSources.Load(new DataSpec("gsm8k", broken)).ToList());
        Assert.Contains("broken.jsonl:2: not valid JSON", e2.Message);

        Assert.Throws<StepDpoException>(() => DataSources.Load(new DataSpec("nope", path)).ToList());
        Assert.Throws<StepDpoException>(() => DataSources.Load(new DataSpec("jsonl", path, Fields: new Dictionary<string, string> { ["questoin"] = "q" })).ToList());
        Assert.Throws<StepDpoException>(() => DataSources.Load(new DataSpec("gsm8k", tmp.File("missing.jsonl"))).ToList());
    }

    [Fact]
    public void Limit_stops_reading_early()
    {
        using var tmp = new Fixture.TempDir();
        // The third line is broken: with Limit 2 the loader must never reach it.
        var path = tmp.File("l.jsonl", "{\"question\":\"a\",\"answer\":\"#### 1\"}\n{\"question\":\"b\",\"answer\":\"#### 2\"}\n{broken\n");
        Assert.Equal(2, DataSources.Load(new DataSpec("gsm8k", path, Limit: 2)).Count());
    }

    [Fact]
    public void Shared_data_is_found_by_walking_up()
    {
        using var tmp = new Fixture.TempDir();
        var data = Directory.CreateDirectory(Path.Combine(tmp.Root, "shared", "data", "gsm8k")).FullName;
        File.WriteAllText(Path.Combine(data, "test.jsonl"), "{\"question\":\"a\",\"answer\":\"#### 1\"}\n");
        var deep = Directory.CreateDirectory(Path.Combine(tmp.Root, "wt", "branch", "src")).FullName;
        var saved = Environment.GetEnvironmentVariable("STEPDPO_SHARED_DATA");
        try
        {
            Environment.SetEnvironmentVariable("STEPDPO_SHARED_DATA", null);
            Assert.Equal(Path.Combine(tmp.Root, "shared", "data"), SharedData.Find(deep));
            Assert.Equal(Path.Combine(data, "test.jsonl"), SharedData.PathFor("gsm8k", deep));
            Assert.Null(SharedData.PathFor("math", deep));
        }
        finally { Environment.SetEnvironmentVariable("STEPDPO_SHARED_DATA", saved); }
    }

    [Fact]
    public void The_reference_test_files_load_through_a_field_mapping()
    {
        // The Step-DPO reference's GSM8K/MATH test layout: idx, instruction, output, answer as a list.
        var fields = new Dictionary<string, string> { ["id"] = "idx", ["question"] = "instruction", ["answer"] = "answer", ["solution"] = "output" };
        var mapped = DataSources.Load(new DataSpec("jsonl", Fixture.Path("gsm8k-stepdpo.jsonl"), null, fields)).ToList();
        var native = DataSources.Load(new DataSpec("gsm8k", Fixture.Path("gsm8k-stepdpo.jsonl"))).ToList();
        Assert.Equal(native.Select(p => p.Answer), mapped.Select(p => p.Answer));
        Assert.Equal(native.Select(p => p.Question), mapped.Select(p => p.Question));
        Assert.Equal("GSM8K_0", mapped[0].Id);
        Assert.DoesNotContain(mapped, p => p.Answer.StartsWith('['));
        var e = Assert.Throws<DataFormatException>(() => DataSources.Load(new DataSpec("jsonl", Fixture.Path("gsm8k-stepdpo.jsonl"), null,
            new Dictionary<string, string> { ["question"] = "instruction", ["answer"] = "gold" })).ToList());
        Assert.Contains("gsm8k-stepdpo.jsonl:1: missing field 'gold'", e.Message);
    }
}
