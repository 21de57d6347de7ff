using System.Text.RegularExpressions;

namespace StepDpo.Build.Tests;

/// <summary>Test methods are sentences: words joined by underscores, so a failing test reads as the claim it makes
/// (.editorconfig's naming rules cannot tell a test from a helper, so this checks the sources).</summary>
public class TestNameTests
{
    static readonly Regex Test = new(@"\[(?:Fact|Theory)\b[^\n]*\n(?:\s*\[[^\n]*\n)*\s*public\s+(?:async\s+)?(?:void|Task)\s+(\w+)\s*\(");
    static readonly Regex Sentence = new(@"^[A-Za-z0-9]+(_[A-Za-z0-9]+)+$|^[A-Z][a-z0-9]*$");

    [Fact]
    public void Every_test_method_is_a_sentence_with_underscores()
    {
        var tests = Directory.EnumerateFiles(Path.Combine(MsBuildTargetsTests.Repo(), "tests"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .SelectMany(f => Test.Matches(File.ReadAllText(f)).Select(m => (File: Path.GetFileName(f), Name: m.Groups[1].Value)))
            .ToList();
        Assert.True(tests.Count > 300, $"found only {tests.Count} tests: the pattern no longer matches how tests are written");
        Assert.Empty(tests.Where(t => !Sentence.IsMatch(t.Name)).Select(t => $"{t.File}: {t.Name}"));
    }
}
