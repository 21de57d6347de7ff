using StepDpo.Core.Manifests;
using StepDpo.Stages.Serving;

namespace StepDpo.Stages.Tests.Serving;

public class ServerLaunchTests
{
    static ServeSection Serve(params string[] command) => new()
    {
        Command = [.. command], TensorParallelSize = 8, MaxModelLen = 4096, ExtraArgs = ["--gpu-memory-utilization", "0.9"],
        Env = new() { ["CUDA_VISIBLE_DEVICES"] = "0,1,2,3,4,5,6,7" },
    };

    [Fact]
    public void Vllm_gets_its_own_flag_names_with_every_value_from_the_manifest()
    {
        var launch = ServerLaunch.For("vllm", Serve(), "/models/qwen2-72b", "start", "bfloat16", 41000);
        Assert.Equal(["vllm", "serve", "/models/qwen2-72b", "--served-model-name", "start", "--tensor-parallel-size", "8",
            "--host", "127.0.0.1", "--port", "41000", "--dtype", "bfloat16", "--max-model-len", "4096", "--gpu-memory-utilization", "0.9"],
            launch.Command);
        Assert.Equal("0,1,2,3,4,5,6,7", launch.Environment["CUDA_VISIBLE_DEVICES"]);
        Assert.Equal(new Uri("http://127.0.0.1:41000"), launch.BaseUrl);
    }

    [Fact]
    public void SGLang_gets_its_own_names_and_the_command_can_be_replaced()
    {
        var launch = ServerLaunch.For("sglang", Serve("/opt/venv/bin/python", "-m", "sglang.launch_server"), "/m", "trained", "bfloat16", 5);
        Assert.Equal(["/opt/venv/bin/python", "-m", "sglang.launch_server", "--model-path", "/m", "--served-model-name", "trained",
            "--tp", "8", "--host", "127.0.0.1", "--port", "5", "--dtype", "bfloat16", "--context-length", "4096", "--gpu-memory-utilization", "0.9"],
            launch.Command);
        Assert.Equal(["python", "-m", "sglang.launch_server"], ServerLaunch.For("sglang", new ServeSection(), "/m", "s", "float16", 5).Command.Take(3));
    }

    [Fact]
    public void Free_ports_are_real_loopback_ports()
    {
        int port = ServerLaunch.FreePort();
        Assert.InRange(port, 1, 65535);
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
        listener.Start();   // still free to bind
    }
}
