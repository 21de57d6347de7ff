namespace StepDpo.Text.Tests;

public class BpeMergeTests
{
    [Fact]
    public void Scanning_and_queue_merges_agree_on_random_words()
    {
        // Short pre-tokens use the scanning merge, long ones the priority queue; both must pick the same merges.
        var model = Fixtures.Qwen.Model;
        var random = new Random(7);
        const string alphabet = "abcdefghijklmnopqrstuvwxyzĠ0123456789.,=";
        for (int n = 0; n < 3000; n++)
        {
            int length = 1 + random.Next(48);
            var word = new string(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            Assert.Equal(model.MergeWith(word, queue: true), model.MergeWith(word, queue: false));
        }
    }

    [Fact]
    public void Merges_follow_rank_not_position()
    {
        // "ĠĠĠĠ" (four spaces) is one token in Qwen's vocabulary, reached through the rank-0 merge "Ġ Ġ".
        var model = Fixtures.Qwen.Model;
        Assert.Equal([Fixtures.Qwen.TokenToId("ĠĠĠĠ")!.Value], model.MergeWith("ĠĠĠĠ", queue: false));
        Assert.Equal([Fixtures.Qwen.TokenToId("ĠĠĠĠ")!.Value], model.MergeWith("ĠĠĠĠ", queue: true));
    }
}
