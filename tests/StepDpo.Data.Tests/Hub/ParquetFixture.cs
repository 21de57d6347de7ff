using Parquet;
using Parquet.Schema;

namespace StepDpo.Tests.Hub;

/// <summary>Writes a parquet file as the Hub serves data sets: string columns (and an optional int64 column), in row
/// groups of rowsPerGroup rows.</summary>
public static class ParquetFixture
{
    public static async Task<byte[]> WriteAsync(IReadOnlyList<IReadOnlyDictionary<string, string>> rows, string[] columns, int rowsPerGroup = 2, string? indexColumn = null)
    {
        var fields = columns.Select(c => new DataField<string>(c)).ToList();
        var index = indexColumn is null ? null : new DataField<long>(indexColumn);
        var schema = new ParquetSchema([.. fields, .. index is null ? Array.Empty<Field>() : [index]]);
        using var stream = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(schema, stream))
        {
            for (int start = 0; start < rows.Count; start += rowsPerGroup)
            {
                var group = rows.Skip(start).Take(rowsPerGroup).ToList();
                using var rg = writer.CreateRowGroup();
                foreach (var f in fields) await rg.WriteAsync(f, group.Select(r => r[f.Name]).ToList());
                if (index is not null)
                    await rg.WriteAsync<long>(index, Enumerable.Range(start, group.Count).Select(i => (long)i).ToArray().AsMemory());
            }
        }
        return stream.ToArray();
    }
}
