namespace StepDpo.Torch.Tests.Placement;

public class TensorFactoryTests
{
    [Fact]
    public void Every_tensor_factory_of_the_engine_names_its_device()
    {
        var findings = TensorFactoryCheck.ScanEngine();
        Assert.True(findings.Count == 0,
            "tensors created or read without saying where (pass device: the model's device, or device: CPU with a comment " +
            "saying why the host is meant; read through .cpu()):\n" + string.Join("\n", findings));
    }

    [Fact]
    public void The_scan_reaches_the_engine_sources()
    {
        // A scan that reads nothing passes vacuously. With the device arguments removed, the engine's factory calls
        // (about thirty: model parameters, batches, masks, decode inputs, the KV cache, optimiser state) are all flagged.
        string folder = TensorFactoryCheck.EngineFolder();
        var files = Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/") && !f.Contains("/bin/")).ToList();
        Assert.Contains(files, f => f.EndsWith("PackedBatch.cs", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("RunningBatch.cs", StringComparison.Ordinal));
        int withoutDevice = files.Sum(f => TensorFactoryCheck.Scan(
            System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(f), @",\s*device: [^,)]+", ""),
            Path.GetRelativePath(folder, f)).Count(x => x.Problem.Contains("factory")));
        Assert.InRange(withoutDevice, 25, 1000);
    }

    [Theory]
    [InlineData("var t = zeros(3, 4);", 1)]
    [InlineData("var t = torch.arange(5, dtype: ScalarType.Int64);", 1)]
    [InlineData("var t = tensor(ids, [2, 3], ScalarType.Int64).to(device);", 1)] // created on the host, then copied
    [InlineData("var t = tensor(ids, [2, 3], ScalarType.Int64, device: device);", 0)]
    [InlineData("var t = torch.ones(2, dtype: ScalarType.Bool, device: x.device);", 0)]
    [InlineData("var t = zeros_like(x);", 0)] // follows x
    [InlineData("var t = reader.tensor(3);", 0)] // not torch's
    [InlineData("var a = x.data<float>().ToArray();", 1)]
    [InlineData("var a = x.cpu().data<float>().ToArray();", 0)]
    [InlineData("using var c = p.detach().contiguous(); var b = c.bytes;", 1)]
    [InlineData("using var c = p.detach().cpu().contiguous(); var b = c.bytes;", 0)]
    [InlineData("using var s = zeros(4, device: CPU); s.bytes = raw;", 0)]
    public void The_scan_flags_what_it_should(string statement, int expected)
    {
        string source = $"class C {{ void M() {{ {statement} }} }}";
        Assert.Equal(expected, TensorFactoryCheck.Scan(source, "Example.cs").Count);
    }
}
