using ScottPlot;
using SkiaSharp;

namespace StepDpo.Stages.Report;

/// <summary>
/// Why the plots carry their own font: the SkiaSharp native build we ship (NoDependencies) has no
/// fontconfig; it finds fonts only by scanning /usr/share/fonts. On this machine that makes ScottPlot's
/// default "DejaVu Serif" (whichever file it met first), and on a slim container with no font files every
/// title, label and tick disappears from the PNG without an error. So the report registers DejaVu Sans
/// (embedded in this assembly; Bitstream Vera licence, see Fonts/LICENSE-DejaVu.txt) under its own family
/// name and uses it explicitly: the same pixels on every machine, text or no system fonts.
/// </summary>
public static class PlotFonts
{
    public const string Family = "StepDpo Sans";

    private static readonly Lazy<(SKTypeface Regular, SKTypeface Bold)> Faces = new(() =>
        (Load("DejaVuSans.ttf"), Load("DejaVuSans-Bold.ttf")));

    private static readonly object Gate = new();
    private static bool registered;

    /// <summary>Registers the embedded font with ScottPlot once per process (thread-safe).</summary>
    public static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (registered) return;
            Fonts.FontResolvers.Insert(0, new EmbeddedResolver());
            registered = true;
        }
    }

    /// <summary>Makes every text element of <paramref name="plot"/> use the embedded font.</summary>
    public static void Apply(Plot plot)
    {
        EnsureRegistered();
        plot.Font.Set(Family);
    }

    /// <summary>A typeface that cannot come from the system: the embedded DejaVu Sans.</summary>
    public static SKTypeface Typeface(bool bold = false) => bold ? Faces.Value.Bold : Faces.Value.Regular;

    private static SKTypeface Load(string file)
    {
        string name = $"StepDpo.Fonts.{file}";
        using var stream = typeof(PlotFonts).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"embedded font {name} is missing from the build");
        return SKTypeface.FromStream(stream) ?? throw new InvalidOperationException($"embedded font {name} cannot be read");
    }

    private sealed class EmbeddedResolver : IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing width) =>
            fontName == Family ? Typeface(weight >= FontWeight.SemiBold) : null;

        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
            fontName == Family ? Typeface(bold) : null;
    }
}
