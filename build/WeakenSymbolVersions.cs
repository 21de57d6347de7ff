// Compiled by MSBuild's RoslynCodeTaskFactory (see TorchSharp.targets) and linked into the build tests.
//
// Why: libLibTorchSharp.so (TorchSharp's native glue) is built with GCC 13 and asks for the symbol
// version GLIBCXX_3.4.32 for exactly one symbol, std::ios_base_library_init, which GCC 13's <iostream>
// references only to force a new libstdc++ and never calls. Debian 12 ships GLIBCXX up to 3.4.30, so the
// loader refuses the library. Marking that version requirement VER_FLG_WEAK makes a missing version
// non-fatal; on systems with a new libstdc++ the flag changes nothing.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public static class ElfSymbolVersions
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    /// <summary>Sets VER_FLG_WEAK on every version requirement named in <paramref name="versions"/>.
    /// Returns how many requirements were changed (0 when already weak or absent).</summary>
    public static int Weaken(byte[] elf, string[] versions)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("only 64-bit little-endian ELF files are supported");
        long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        int changed = 0;
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            uint link = BitConverter.ToUInt32(elf, (int)sh + 0x28);
            long strtab = (long)BitConverter.ToUInt64(elf, (int)(shoff + (long)link * shentsize) + 0x18);
            long need = offset;
            while (true)
            {
                int count = BitConverter.ToUInt16(elf, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < count; a++)
                {
                    string name = CString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8));
                    int flagsAt = (int)aux + 4;
                    ushort flags = BitConverter.ToUInt16(elf, flagsAt);
                    if (Array.IndexOf(versions, name) >= 0 && (flags & VerFlgWeak) == 0)
                    {
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, flagsAt);
                        changed++;
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                uint next = BitConverter.ToUInt32(elf, (int)need + 12);
                if (next == 0) break;
                need += next;
            }
        }
        return changed;
    }

    /// <summary>Version requirements of the file as (name, weak) pairs, for checks and tests.</summary>
    public static System.Collections.Generic.List<(string Name, bool Weak)> Requirements(byte[] elf)
    {
        var list = new System.Collections.Generic.List<(string, bool)>();
        long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A), shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long need = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            long strtab = (long)BitConverter.ToUInt64(elf, (int)(shoff + (long)BitConverter.ToUInt32(elf, (int)sh + 0x28) * shentsize) + 0x18);
            while (true)
            {
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < BitConverter.ToUInt16(elf, (int)need + 2); a++)
                {
                    list.Add((CString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8)),
                              (BitConverter.ToUInt16(elf, (int)aux + 4) & VerFlgWeak) != 0));
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                uint next = BitConverter.ToUInt32(elf, (int)need + 12);
                if (next == 0) break;
                need += next;
            }
        }
        return list;
    }

    static string CString(byte[] b, long at)
    {
        int end = (int)at;
        while (b[end] != 0) end++;
        return Encoding.ASCII.GetString(b, (int)at, end - (int)at);
    }
}

/// <summary>Copies each input ELF file to OutputDirectory/DestinationSubPath with the named
/// version requirements made weak. Writes to a temp file and renames, so a killed build never
/// leaves a half-written library.</summary>
public class WeakenSymbolVersions : Microsoft.Build.Utilities.Task
{
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string OutputDirectory { get; set; } = "";
    [Required] public string Versions { get; set; } = "";
    [Output] public ITaskItem[] Patched { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        var versions = Versions.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries);
        var result = new System.Collections.Generic.List<ITaskItem>();
        foreach (var file in Files)
        {
            string sub = file.GetMetadata("DestinationSubPath");
            if (string.IsNullOrEmpty(sub)) sub = Path.GetFileName(file.ItemSpec);
            string target = Path.GetFullPath(Path.Combine(OutputDirectory, sub));
            var source = new FileInfo(file.ItemSpec);
            var existing = new FileInfo(target);
            if (!existing.Exists || existing.LastWriteTimeUtc < source.LastWriteTimeUtc || existing.Length != source.Length)
            {
                byte[] bytes = File.ReadAllBytes(source.FullName);
                int changed = ElfSymbolVersions.Weaken(bytes, versions);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                string temp = target + ".tmp";
                File.WriteAllBytes(temp, bytes);
                File.SetLastWriteTimeUtc(temp, source.LastWriteTimeUtc);
                if (File.Exists(target)) File.Replace(temp, target, null); else File.Move(temp, target);
                Log.LogMessage(MessageImportance.Normal, $"Weakened {changed} symbol version requirement(s) ({Versions}) in {sub}");
            }
            var item = new TaskItem(target);
            file.CopyMetadataTo(item);
            result.Add(item);
        }
        Patched = result.ToArray();
        return !Log.HasLoggedErrors;
    }
}
