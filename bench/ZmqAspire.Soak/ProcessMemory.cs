using System.Globalization;

namespace ZmqAspire.Soak;

/// <summary>Reads a process's memory from /proc (Linux): resident set size now and at its peak.</summary>
internal static class ProcessMemory
{
    /// <summary>
    /// Returns VmRSS, VmHWM and RssAnon in bytes, or null when the process is gone. RssAnon is
    /// the heap and stacks; the rest of RSS is mapped files (the runtime and assemblies' code).
    /// </summary>
    public static (long Rss, long Peak, long Anonymous)? Read(int pid)
    {
        try
        {
            long rss = 0, peak = 0, anonymous = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = Kilobytes(line) * 1024;
                }
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    peak = Kilobytes(line) * 1024;
                }
                else if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                {
                    anonymous = Kilobytes(line) * 1024;
                }
            }

            return (rss, peak, anonymous);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// Finds the process that runs <paramref name="assemblyName"/> among <paramref name="root"/>
    /// and its descendants: DCP may start a project through <c>dotnet run</c>, whose child is the app.
    /// </summary>
    public static int? FindInTree(int root, string assemblyName)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ParentOf(pid) is { } parent)
            {
                (children.TryGetValue(parent, out var list) ? list : children[parent] = []).Add(pid);
            }
        }

        var pending = new Queue<int>([root]);
        while (pending.TryDequeue(out var pid))
        {
            // The app itself: its apphost (ZmqAspire.Client) or "dotnet ZmqAspire.Client.dll";
            // not "dotnet run --project ZmqAspire.Client.csproj", which is its parent.
            var name = assemblyName;
            if (CommandLine(pid).Any(arg => Path.GetFileName(arg) is var file && (file == name || file == name + ".dll")))
            {
                return pid;
            }

            foreach (var child in children.GetValueOrDefault(pid) ?? [])
            {
                pending.Enqueue(child);
            }
        }

        return null;
    }

    private static long Kilobytes(string line) =>
        long.Parse(line.Split(':')[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);

    private static int? ParentOf(int pid)
    {
        try
        {
            // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string[] CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (IOException)
        {
            return [];
        }
    }
}
