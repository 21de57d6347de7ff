using System.Text.Json;
using StepDpo.Data.Synthetic;

namespace StepDpo.Data.Tests.Synthetic;

public class JsonlTests
{
    [Fact]
    public void Writes_one_object_per_problem_with_the_generic_fields_and_leaves_no_temp_file()
    {
        string dir = Directory.CreateTempSubdirectory("stepdpo-synthetic-").FullName;
        try
        {
            string path = Path.Combine(dir, "sub", "train.jsonl");
            var problems = SyntheticWorld.Generate(50, seed: 9);
            SyntheticWorld.WriteJsonl(path, problems.Take(10));
            SyntheticWorld.WriteJsonl(path, problems); // replaces the old file whole
            var lines = File.ReadAllLines(path);
            Assert.Equal(50, lines.Length);
            for (int i = 0; i < lines.Length; i++)
            {
                using var doc = JsonDocument.Parse(lines[i]);
                var root = doc.RootElement;
                Assert.Equal(["id", "question", "answer", "solution"], root.EnumerateObject().Select(p => p.Name));
                Assert.Equal(problems[i].Id, root.GetProperty("id").GetString());
                Assert.Equal(problems[i].Question, root.GetProperty("question").GetString());
                Assert.Equal(problems[i].Answer, root.GetProperty("answer").GetString());
                Assert.Equal(problems[i].Solution, root.GetProperty("solution").GetString());
            }
            Assert.Contains(@"\\boxed{", lines[0]); // the backslash is JSON-escaped, the rest stays readable
            Assert.Single(Directory.GetFiles(Path.Combine(dir, "sub")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
