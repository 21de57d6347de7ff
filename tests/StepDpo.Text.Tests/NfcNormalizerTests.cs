using System.IO.Compression;
using StepDpo.Text.Unicode;

namespace StepDpo.Text.Tests;

public class NfcNormalizerTests
{
    [Fact]
    public void Passes_the_unicode_normalization_conformance_test()
    {
        // NormalizationTest.txt (Unicode 15.0): c2 == NFC(c1) == NFC(c2) == NFC(c3), c4 == NFC(c4) == NFC(c5).
        using var reader = new StreamReader(new GZipStream(File.OpenRead(Fixtures.Path_("NormalizationTest-15.0.txt.gz")), CompressionMode.Decompress));
        int checkedLines = 0;
        var failures = new List<string>();
        string? line;
        while ((line = reader.ReadLine()) != null)
        {
            if (line.Length == 0 || line[0] == '#' || line[0] == '@') continue;
            var c = line.Split(';').Take(5).Select(Decode).ToArray();
            foreach (var (input, expected) in new[] { (c[0], c[1]), (c[1], c[1]), (c[2], c[1]), (c[3], c[3]), (c[4], c[3]) })
                if (NfcNormalizer.Normalize(input) != expected) failures.Add(line);
            checkedLines++;
        }
        Assert.True(checkedLines > 18000, $"only {checkedLines} lines read");
        Assert.True(failures.Count == 0, $"{failures.Count} failures, e.g.\n" + string.Join("\n", failures.Take(5)));
    }

    [Fact]
    public void Leaves_text_below_u0300_as_the_same_instance()
    {
        const string text = "Plain ASCII and Latin-1: café";
        Assert.Same(text, NfcNormalizer.Normalize(text));
    }

    static string Decode(string field) =>
        string.Concat(field.Trim().Split(' ').Select(h => char.ConvertFromUtf32(Convert.ToInt32(h, 16))));
}
