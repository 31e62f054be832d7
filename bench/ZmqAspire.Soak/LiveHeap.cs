using System.Globalization;
using System.Text.RegularExpressions;

namespace ZmqAspire.Soak;

/// <summary>A process's live managed heap after a full, blocking GC: bytes, objects, and the biggest types.</summary>
internal sealed record LiveHeapFigure(long Bytes, long Objects, IReadOnlyList<string> TopTypes);

/// <summary>
/// Measures a .NET process's live heap with dotnet-gcdump (pinned in the repository's
/// dotnet-tools.json). Why: RSS alone cannot tell a leak from a GC that keeps committed memory
/// it no longer needs; gcdump triggers a full, blocking GC and walks what survives, so a leak
/// shows as live bytes that grow between two dumps. Each dump costs the process one full GC.
/// </summary>
internal static partial class LiveHeap
{
    private static readonly string RepoRoot = FindRepoRoot();

    /// <summary>Restores the pinned dotnet-gcdump (a few seconds once, then instant).</summary>
    /// <exception cref="InvalidOperationException">The tool could not be restored.</exception>
    public static async Task RestoreToolAsync(CancellationToken cancellationToken)
    {
        var (code, output) = await DotnetAsync(["tool", "restore"], cancellationToken).ConfigureAwait(false);
        if (code != 0)
        {
            throw new InvalidOperationException($"dotnet tool restore failed:\n{output}");
        }
    }

    /// <summary>
    /// Dumps the live heap of process <paramref name="pid"/>. For a process in a container, pass
    /// its pid as the host sees it: its diagnostic socket is reached through <c>/proc/PID/root</c>
    /// (needs root). Returns null, with the reason written to the console, when the dump fails.
    /// </summary>
    public static async Task<LiveHeapFigure?> MeasureAsync(int pid, bool inContainer, CancellationToken cancellationToken)
    {
        var dump = Path.Combine(Path.GetTempPath(), $"zmqaspire-soak-{pid}-{Environment.TickCount64}.gcdump");
        try
        {
            string[] target = ["-p", pid.ToString(CultureInfo.InvariantCulture)];
            if (inContainer)
            {
                // The runtime names its socket dotnet-diagnostic-{pid in the container}-{start}-socket under the container's /tmp.
                var socket = Directory.EnumerateFiles($"/proc/{pid}/root/tmp", "dotnet-diagnostic-*-socket").FirstOrDefault();
                if (socket is null)
                {
                    Console.WriteLine($"  (no diagnostic socket in the container of pid {pid})");
                    return null;
                }

                target = ["--diagnostic-port", socket + ",connect"];
            }

            var (code, output) = await DotnetAsync(["tool", "run", "dotnet-gcdump", "collect", .. target, "-o", dump], cancellationToken).ConfigureAwait(false);
            if (code != 0 || !File.Exists(dump))
            {
                Console.WriteLine($"  (dotnet-gcdump collect failed for pid {pid}: {output.Trim()})");
                return null;
            }

            (code, output) = await DotnetAsync(["tool", "run", "dotnet-gcdump", "report", dump], cancellationToken).ConfigureAwait(false);
            return code == 0 ? Parse(output) : null;
        }
        finally
        {
            File.Delete(dump);
        }
    }

    // The report starts "  11,589,129  GC Heap bytes", "  25,603  GC Heap objects", then a table
    // of "bytes count type" rows, biggest first.
    private static LiveHeapFigure? Parse(string report)
    {
        var bytes = Total().Match(report);
        var objects = Objects().Match(report);
        if (!bytes.Success || !objects.Success)
        {
            return null;
        }

        var top = TypeRow().Matches(report).Take(5).Select(m => $"{m.Groups[1].Value} B ×{m.Groups[2].Value} {m.Groups[3].Value.Trim()}").ToList();
        return new LiveHeapFigure(Number(bytes.Groups[1].Value), Number(objects.Groups[1].Value), top);
    }

    private static long Number(string text) => long.Parse(text, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);

    // dotnet in the repository root, where dotnet-tools.json pins the tool; stdout then stderr.
    private static async Task<(int Code, string Output)> DotnetAsync(string[] args, CancellationToken cancellationToken)
    {
        var (code, stdout, stderr) = await Tool.RunAsync("dotnet", args, RepoRoot, cancellationToken).ConfigureAwait(false);
        return (code, stdout + stderr);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "dotnet-tools.json")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("dotnet-tools.json not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^\s*([\d,]+)\s+GC Heap bytes", RegexOptions.Multiline)]
    private static partial Regex Total();

    [GeneratedRegex(@"^\s*([\d,]+)\s+GC Heap objects", RegexOptions.Multiline)]
    private static partial Regex Objects();

    [GeneratedRegex(@"^\s*([\d,]+)\s+([\d,]+)\s+(\S.*?)\s+\[", RegexOptions.Multiline)]
    private static partial Regex TypeRow();
}
