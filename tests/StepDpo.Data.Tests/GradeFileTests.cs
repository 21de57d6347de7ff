using System.Text.Json.Nodes;
using StepDpo.Core;

namespace StepDpo.Data.Tests;

/// <summary>The grade contract: every input line comes back with its own fields, in order, plus
/// "extracted" and "correct".</summary>
public class GradeFileTests
{
    [Fact]
    public void Adds_extracted_and_correct_keeping_the_line()
    {
        using var tmp = new Fixture.TempDir();
        var input = tmp.File("in.jsonl", string.Join("\n",
            """{"id": 7, "prediction": "So $x = \\boxed{\\dfrac{1}{2}}$.", "answer": "0.5"}""",
            """{"prediction": "Janet makes 9 * 2 = 18 dollars.\n#### 18", "answer": 18}""",
            """{"prediction": "It is 50 percent. The answer is 50", "answer": "0.5"}""",
            "",
            """{"prediction": "I am not sure.", "answer": "3"}""",
            """{"prediction": "\\boxed{2\\sqrt{2}}", "answer": "\\sqrt{8}"}""") + "\n");
        var output = tmp.File("out.jsonl");
        var diffs = tmp.File("diffs.jsonl");
        var s = GradeFile.Run(input, output, "stepdpo", compareWith: "hendrycks", disagreementsPath: diffs);
        var lines = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(5, lines.Count);
        Assert.Equal(["id", "prediction", "answer", "extracted", "correct"], lines[0].Select(kv => kv.Key));
        Assert.Equal([true, true, false, false, true], lines.Select(l => l["correct"]!.GetValue<bool>()));
        Assert.Equal("\\dfrac{1}{2}", lines[0]["extracted"]!.GetValue<string>());
        Assert.Equal("18", lines[1]["extracted"]!.GetValue<string>());
        Assert.Null(lines[3]["extracted"]);
        Assert.Equal(new GradeSummary(5, 3, 1, 1), s);
        var diff = JsonNode.Parse(Assert.Single(File.ReadAllLines(diffs)))!;
        Assert.Equal(6, diff["line"]!.GetValue<int>()); // 2\sqrt{2} = \sqrt{8}: only stepdpo sees it
    }

    [Fact]
    public void Hendrycks_grader_on_the_same_file()
    {
        using var tmp = new Fixture.TempDir();
        var input = tmp.File("in.jsonl", """{"prediction": "\\boxed{2\\sqrt{2}}", "answer": "\\sqrt{8}"}""" + "\n");
        var s = GradeFile.Run(input, tmp.File("o.jsonl"), "hendrycks");
        Assert.Equal(0, s.Correct);
    }

    [Fact]
    public void Bad_lines_name_file_and_line()
    {
        using var tmp = new Fixture.TempDir();
        var input = tmp.File("in.jsonl", "{\"prediction\": \"1\", \"answer\": \"1\"}\n{\"prediction\": \"1\"}\n");
        var e = Assert.Throws<DataFormatException>(() => GradeFile.Run(input, tmp.File("o.jsonl")));
        Assert.Contains("in.jsonl:2: missing field 'answer'", e.Message);
        var notJson = tmp.File("bad.jsonl", "[1,2]\n");
        Assert.Contains("bad.jsonl:1", Assert.Throws<DataFormatException>(() => GradeFile.Run(notJson, tmp.File("o2.jsonl"))).Message);
        Assert.Throws<StepDpoException>(() => GradeFile.Run(input, tmp.File("o3.jsonl"), "sympy"));
        Assert.False(File.Exists(tmp.File("o.jsonl"))); // no half-written output
    }

    [Fact]
    public void Stats_count_kinds_and_duplicates()
    {
        var problems = new[]
        {
            new Problem("a", "q1", "42", Level: "Level 1", Subject: "Algebra"),
            new Problem("b", "q22", "\\frac{1}{2}", Level: "Level 1", Subject: "Algebra"),
            new Problem("b", "q333", "(1, 2)", Level: "Level 5", Subject: "Geometry"),
            new Problem("c", "q", "x^2+1"),
            new Problem("d", "q", "\\text{Evelyn}"),
        };
        var s = DataStats.Compute(problems);
        Assert.Equal(5, s.Count);
        Assert.Equal(1, s.DuplicateIds);
        Assert.Equal(2, s.Levels["Level 1"]);
        Assert.Equal(new Dictionary<string, int> { ["integer"] = 1, ["rational"] = 1, ["tuple"] = 1, ["symbolic"] = 1, ["text"] = 1 }, s.AnswerKinds);
        Assert.Equal(4, s.MaxQuestionChars);
    }
}
