using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace StepDpo.Data;

/// <summary>
/// The rows of a parquet file (how the Hub serves data sets) as <see cref="JsonRecord"/>s, so every loader that reads
/// JSON Lines reads parquet too; rows are numbered from 1 as lines are. Top-level string, integer, floating-point and
/// boolean columns are read (the Step-DPO and benchmark sets hold only those); nested columns are refused by name.
/// </summary>
public static class ParquetRecords
{
    public static IEnumerable<JsonRecord> Read(string path)
    {
        using var stream = File.OpenRead(path);
        ParquetReader reader;
        try { reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException)
        {
            throw new DataFormatException(path, 1, $"not a readable parquet file ({e.Message})");
        }
        try
        {
            var fields = reader.Schema.Fields.Select(f => f as DataField
                ?? throw new DataFormatException(path, 1, $"column '{f.Name}' is nested ({f.SchemaType}); only flat columns are read")).ToList();
            int row = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                int n = checked((int)group.RowCount);
                var columns = fields.Select(f => ReadColumn(group, f, n, path)).ToList();
                for (int i = 0; i < n; i++)
                {
                    row++;
                    var buffer = new System.Buffers.ArrayBufferWriter<byte>();
                    using (var w = new Utf8JsonWriter(buffer))
                    {
                        w.WriteStartObject();
                        for (int c = 0; c < fields.Count; c++)
                        {
                            w.WritePropertyName(fields[c].Name);
                            switch (columns[c][i])
                            {
                                case null: w.WriteNullValue(); break;
                                case string s: w.WriteStringValue(s); break;
                                case bool b: w.WriteBooleanValue(b); break;
                                case double d: w.WriteNumberValue(d); break;
                                case long l: w.WriteNumberValue(l); break;
                            }
                        }
                        w.WriteEndObject();
                    }
                    yield return new JsonRecord(path, row, JsonDocument.Parse(buffer.WrittenMemory).RootElement);
                }
            }
        }
        finally { reader.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    static object?[] ReadColumn(ParquetRowGroupReader group, DataField field, int n, string path)
    {
        Type t = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        if (t == typeof(string) || t == typeof(ReadOnlyMemory<char>))
        {
            var values = new string?[n];
            group.ReadAsync(field, values.AsMemory()).AsTask().GetAwaiter().GetResult();
            return values;
        }
        if (t == typeof(long)) return Numbers<long>(group, field, n, v => v);
        if (t == typeof(int)) return Numbers<int>(group, field, n, v => (long)v);
        if (t == typeof(double)) return Numbers<double>(group, field, n, v => v);
        if (t == typeof(float)) return Numbers<float>(group, field, n, v => (double)v);
        if (t == typeof(bool)) return Numbers<bool>(group, field, n, v => v);
        throw new DataFormatException(path, 1, $"column '{field.Name}' has type {t.Name}; only strings, numbers and booleans are read");
    }

    static object?[] Numbers<T>(ParquetRowGroupReader group, DataField field, int n, Func<T, object> box) where T : struct
    {
        var values = new T?[n];
        group.ReadAsync(field, values.AsMemory()).AsTask().GetAwaiter().GetResult();
        return values.Select(v => v is { } x ? box(x) : null).ToArray();
    }
}
