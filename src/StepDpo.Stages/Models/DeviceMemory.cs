using System.Diagnostics;
using System.Globalization;

namespace StepDpo.Stages.Models;

/// <summary>How much memory a device has, and how much of it a plan may use.</summary>
public static class DeviceMemory
{
    /// <summary>Total bytes of <paramref name="device"/> (cpu: MemTotal; cuda or cuda:N: nvidia-smi's memory.total), or
    /// null when this machine cannot tell.</summary>
    public static long? Total(string device)
    {
        if (device == "cpu")
        {
            var line = File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:")) : null;
            return line is null ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes
                : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        string index = device.StartsWith("cuda:") ? device["cuda:".Length..] : "0";
        try
        {
            var psi = new ProcessStartInfo("nvidia-smi", ["--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", index])
                { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 && long.TryParse(output, CultureInfo.InvariantCulture, out long mib) ? mib * 1048576 : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; } // no nvidia-smi: no NVIDIA driver here
    }

    /// <summary>
    /// What the plan may fill. The plan counts tensors; a process holds more. On the CPU glibc keeps freed blocks in its
    /// arenas (measured here: 12-39% above the plan's peak, the `memory` benchmark), and the machine runs other things:
    /// 70% of the total. On a GPU the CUDA context, library workspaces and the caching allocator's fragmentation (not
    /// measured here): 92% of the total, less 1 GiB.
    /// </summary>
    public static long Usable(string device, long total) => device == "cpu" ? total * 7 / 10 : total * 92 / 100 - (1L << 30);
}
