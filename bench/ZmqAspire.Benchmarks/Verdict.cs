using System.Globalization;

namespace ZmqAspire.Benchmarks;

/// <summary>
/// Whether one mode is ahead of, behind, or within noise of another in one row, judged on the
/// spread of their runs rather than on the medians alone: on a noisy machine two medians differ
/// every time, and only ranges that do not overlap say which is faster.
/// </summary>
internal static class Verdict
{
    /// <summary>
    /// Compares the runs of <paramref name="ours"/> with those of <paramref name="reference"/>.
    /// Returns the speed ratio of the medians (above 1: ours is faster; for latency the
    /// reference's time over ours, for throughput our rate over the reference's) and a word:
    /// <c>ahead</c> when every run of ours beats every run of the reference, <c>behind</c> when
    /// every run of the reference beats every run of ours, else <c>within noise</c>. With fewer
    /// than <see cref="MinimumRuns"/> runs of either there is no word.
    /// </summary>
    /// <remarks>
    /// If the two modes were equally fast, the n runs of each would be shuffled at random, and
    /// "every run of ours beats every run of the other" would happen by chance once in C(2n, n)
    /// invocations: 1 in 20 with 3 runs each, 1 in 252 with 5. Hence at least 3 runs, and 5 for
    /// a verdict to rely on.
    /// </remarks>
    public static string Compare(IReadOnlyList<double> ours, IReadOnlyList<double> reference, bool higherIsBetter)
    {
        if (ours.Count == 0 || reference.Count == 0)
        {
            return "—";
        }

        var ratio = higherIsBetter
            ? LatencyResult.Med(ours) / LatencyResult.Med(reference)
            : LatencyResult.Med(reference) / LatencyResult.Med(ours);
        var word = Word(ours, reference, higherIsBetter);
        return ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×" + (word is null ? string.Empty : " " + word);
    }

    /// <summary>Runs of each mode below which no word is given.</summary>
    public const int MinimumRuns = 3;

    /// <summary>The word alone (<c>ahead</c>, <c>behind</c>, <c>within noise</c>), or null with fewer than <see cref="MinimumRuns"/> runs of either.</summary>
    public static string? Word(IReadOnlyList<double> ours, IReadOnlyList<double> reference, bool higherIsBetter)
    {
        if (ours.Count < MinimumRuns || reference.Count < MinimumRuns)
        {
            return null;
        }

        var (oursWorst, oursBest) = higherIsBetter ? (ours.Min(), ours.Max()) : (ours.Max(), ours.Min());
        var (refWorst, refBest) = higherIsBetter ? (reference.Min(), reference.Max()) : (reference.Max(), reference.Min());
        bool Better(double a, double b) => higherIsBetter ? a > b : a < b;
        return Better(oursWorst, refBest) ? "ahead"
            : Better(refWorst, oursBest) ? "behind"
            : "within noise";
    }

    /// <summary>The min–max of the runs, or "—".</summary>
    public static string Spread(IReadOnlyList<double> runs, Func<double, string> format) =>
        runs.Count < 2 ? "—" : $"{format(runs.Min())}–{format(runs.Max())}";

    /// <summary>The <c>ssh -L</c> mode a mode of ours is judged against (same socket kind), or null for the other modes.</summary>
    public static string? ReferenceOf(string modeId, IReadOnlyList<ModeInfo> modes)
    {
        var mode = modes.FirstOrDefault(m => m.Id == modeId);
        if (mode is null || mode.Transport is not ("tunnel" or "cli" or TunnelTransport.OpenSshWindowId or TunnelTransport.SshNetBuffersId))
        {
            return null;
        }

        return modes.FirstOrDefault(m => m.Transport == "ssh-L" && m.Kind == mode.Kind && m.Peer == mode.Peer)?.Id;
    }
}
