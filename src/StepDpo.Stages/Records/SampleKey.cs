namespace StepDpo.Stages.Records;

/// <summary>The store key of sample <c>index</c> of a problem, shared by every stage that samples n per problem.</summary>
public static class SampleKey
{
    public static string Of(string problemId, int index) => $"{problemId}#{index}";
}

/// <summary>Per-request seeds derived from the run's seed, the problem and the first sample index, so that a
/// request asks for the same samples whether the run was interrupted or not.</summary>
public static class SeedDerivation
{
    /// <summary>A stable 31-bit seed (servers disagree on wider ones): FNV-1a over the inputs, then a SplitMix64 finaliser.</summary>
    public static long Derive(long seed, string problemId, int index)
    {
        var h = 14695981039346656037UL;
        void Mix(ulong b) { h ^= b; h *= 1099511628211UL; }
        for (var i = 0; i < 8; i++) Mix((ulong)(seed >> (8 * i)) & 0xFF);
        foreach (var c in problemId) { Mix((ulong)(c & 0xFF)); Mix((ulong)(c >> 8)); }
        for (var i = 0; i < 4; i++) Mix((ulong)(index >> (8 * i)) & 0xFF);
        h ^= h >> 30; h *= 0xBF58476D1CE4E5B9UL;
        h ^= h >> 27; h *= 0x94D049BB133111EBUL;
        h ^= h >> 31;
        return (long)(h & 0x7FFFFFFF);
    }
}
