using StepDpo.Core;
using StepDpo.Torch.Devices;
using TorchSharp;

namespace StepDpo.Torch.Tests.Placement;

public class DeviceSpecTests
{
    [Theory]
    [InlineData("auto", true)]
    [InlineData("cpu", true)]
    [InlineData("cuda", true)]
    [InlineData("cuda:0", true)]
    [InlineData("cuda:12", true)]
    [InlineData("gpu", false)]
    [InlineData("cuda:", false)]
    [InlineData("cuda:x", false)]
    [InlineData("CPU", false)]
    [InlineData("cpu:0", false)]
    public void Only_the_documented_spellings_are_valid(string text, bool valid)
    {
        Assert.Equal(valid, DeviceSpec.IsValid(text));
        if (!valid) Assert.Contains("auto, cpu, cuda or cuda:N", Assert.Throws<StepDpoException>(() => DeviceSpec.Resolve(text)).Message);
    }

    [Fact]
    public void Cpu_and_auto_resolve_and_the_kind_names_what_computes()
    {
        Assert.Equal(DeviceType.CPU, DeviceSpec.Resolve("cpu").type);
        Assert.Equal("cpu", DeviceSpec.Kind("cpu"));
        Assert.Equal("cuda", DeviceSpec.Kind("cuda:3"));
        bool gpu = DeviceSpec.CudaUsable();
        Assert.Equal(gpu ? DeviceType.CUDA : DeviceType.CPU, DeviceSpec.Resolve("auto").type);
        Assert.Equal(gpu ? "cuda" : "cpu", DeviceSpec.Kind("auto"));
    }

    [Fact]
    public void Asking_for_a_gpu_that_cannot_be_used_is_one_line_that_says_why()
    {
        if (!DeviceSpec.CudaRuntimeLoaded())
        {
            // This build (TorchSharp-cpu) has no CUDA kernels: the error says so and how to get them.
            var e = Assert.Throws<StepDpoException>(() => DeviceSpec.Resolve("cuda"));
            Assert.Contains("CPU runtime", e.Message);
            Assert.Contains("--torch cuda", e.Message);
            Assert.DoesNotContain("\n", e.Message);
            Assert.Contains("'cuda:1'", Assert.Throws<StepDpoException>(() => DeviceSpec.Resolve("cuda:1")).Message);
            return;
        }
        var outOfRange = Assert.Throws<StepDpoException>(() => DeviceSpec.Resolve("cuda:999"));
        Assert.Contains("visible", outOfRange.Message);
    }

    [Fact]
    public void Without_a_driver_the_cuda_facts_are_empty_not_an_error()
    {
        if (CudaDriver.Present) return; // a GPU machine: the GPU check prints these facts
        Assert.Empty(CudaDriver.Devices());
        Assert.Null(CudaDriver.DriverVersion());
        Assert.Null(CudaDriver.MemoryInfo(0));
    }
}
