namespace StepDpo.Text;

/// <summary>GPT-2's reversible byte-to-character map used by the ByteLevel pre-tokenizer and decoder: printable
/// bytes (33-126, 161-172, 174-255) stand for themselves, the other 68 bytes map to U+0100.. in byte order, so every
/// byte sequence becomes a string of visible characters that a BPE vocabulary can hold.</summary>
public static class ByteLevelAlphabet
{
    /// <summary>The character that stands for each byte.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    /// <summary>Inverse of <see cref="ByteToChar"/>, indexed by char; -1 for characters that stand for no byte.</summary>
    static readonly short[] CharToByteTable = BuildCharToByte();

    /// <summary>The byte a character stands for, or -1.</summary>
    public static int CharToByte(char c) => c < CharToByteTable.Length ? CharToByteTable[c] : -1;

    static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
            map[b] = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255) ? (char)b : (char)next++;
        return map;
    }

    static short[] BuildCharToByte()
    {
        var table = new short[256 + 68];
        Array.Fill(table, (short)-1);
        for (int b = 0; b < 256; b++) table[ByteToChar[b]] = (short)b;
        return table;
    }
}
