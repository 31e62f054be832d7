using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using ZmqAspire.Testing.Sshd;

namespace ZmqAspire.Benchmarks;

/// <summary>Linux /proc readers: resident memory of a process and its children, listening ports.</summary>
internal static class Proc
{
    /// <summary>Reads a <c>kB</c> field of <c>/proc/PID/status</c> (VmRSS, VmHWM), in bytes; null if unreadable.</summary>
    public static long? StatusBytes(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    public static long? Rss(int pid) => StatusBytes(pid, "VmRSS");

    /// <summary>Peak resident set size (VmHWM) since start or the last <see cref="ResetPeak"/>.</summary>
    public static long? PeakRss(int pid) => StatusBytes(pid, "VmHWM");

    public static int SelfPid => Environment.ProcessId;

    /// <summary>
    /// Resets VmHWM to the current RSS (writing 5 to /proc/PID/clear_refs, Linux 4.0+), so a
    /// later <see cref="PeakRss"/> is the peak of one phase. Returns false where not permitted.
    /// </summary>
    public static bool ResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Gets the descendants of a process (children, grandchildren, ...).</summary>
    public static List<int> Descendants(int pid)
    {
        var parents = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var child))
            {
                continue;
            }

            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces or parentheses.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var ppid = int.Parse(rest[1], CultureInfo.InvariantCulture);
                if (!parents.TryGetValue(ppid, out var list))
                {
                    parents[ppid] = list = [];
                }

                list.Add(child);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException)
            {
            }
        }

        var result = new List<int>();
        var queue = new Queue<int>([pid]);
        while (queue.Count > 0)
        {
            if (parents.TryGetValue(queue.Dequeue(), out var children))
            {
                foreach (var c in children)
                {
                    result.Add(c);
                    queue.Enqueue(c);
                }
            }
        }

        return result;
    }

    /// <summary>Gets the set of TCP ports in LISTEN state on IPv4 (from /proc/net/tcp).</summary>
    public static HashSet<int> ListeningPorts()
    {
        var ports = new HashSet<int>();
        foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 3 && fields[3] == "0A")
            {
                var local = fields[1];
                ports.Add(int.Parse(local[(local.IndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }
        }

        return ports;
    }

    /// <summary>Runs a tool to completion (stdin closed, 60 s at most) and returns its exit code and output (stdout, then stderr).</summary>
    public static (int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        var result = ProcessRunner.Run(file, arguments);
        return (result.ExitCode, result.StandardOutput + result.StandardError);
    }

    public static string RunChecked(string file, params string[] arguments)
    {
        var (code, output) = Run(file, arguments);
        return code == 0 ? output : throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({code}): {output}");
    }

    /// <summary>
    /// The machine's busy CPU time so far, in seconds summed over all cores (the first line of
    /// /proc/stat: every state but idle and iowait). Two readings over an interval, divided by the
    /// interval, give how many cores were busy: what a CPU-bound speed-up cannot exceed.
    /// </summary>
    public static double MachineBusySeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // cpu user nice system idle iowait irq softirq steal ...: ticks of USER_HZ, 100 on Linux.
        var ticks = fields.Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        return (ticks.Sum() - ticks[3] - ticks[4]) / 100.0;
    }

    /// <summary>Forces a full, compacting collection so VmRSS reflects live memory only.</summary>
    public static void SettleManagedHeap()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        Thread.Sleep(100);
    }
}
