using StepDpo.Core;
using StepDpo.Stages.Report;

namespace StepDpo.Stages.Tests.Report;

public class TrainingMetricsTests
{
    private static string Temp(string text)
    {
        string path = Path.Combine(Path.GetTempPath(), $"stepdpo-metrics-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Reads_numeric_fields_by_step_and_finds_first_and_last_values()
    {
        string path = Temp("""
            {"step": 2, "loss": 0.6, "rewards/margins": 0.1, "stage": "dpo"}

            {"step": 1, "loss": 0.69, "rewards/accuracies": 0.5, "extra": null}
            {"step": 3, "loss": 0.5, "rewards/margins": 0.4}
            """);
        try
        {
            var rows = TrainingMetrics.Read(path);
            Assert.Equal(3, rows.Count);
            Assert.False(rows[0].Values.ContainsKey("stage"));
            var (steps, margins) = TrainingMetrics.Series(rows, TrainingMetrics.RewardMargins);
            Assert.Equal([2.0, 3.0], steps);
            Assert.Equal([0.1, 0.4], margins);
            Assert.Equal(0.69, TrainingMetrics.First(rows)["loss"]);
            Assert.Equal(0.5, TrainingMetrics.Final(rows)["loss"]);
            Assert.Equal(0.5, TrainingMetrics.Final(rows)["rewards/accuracies"]);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("{\"step\": 1, \"loss\": 0.5}\n{\"loss\": 0.4}", ":2: key 'step' missing")]
    [InlineData("{\"step\": 1}\n{\"step\": 2,", ":2: not valid JSON")]
    [InlineData("[1, 2]", ":1: expected a JSON object")]
    public void Bad_lines_are_reported_with_file_and_line(string text, string message)
    {
        string path = Temp(text);
        try
        {
            var ex = Assert.Throws<StepDpoException>(() => TrainingMetrics.Read(path));
            Assert.Contains(path + message, ex.Message);
        }
        finally { File.Delete(path); }
    }
}
