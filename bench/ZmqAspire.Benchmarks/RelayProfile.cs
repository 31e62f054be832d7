using System.Globalization;
using System.Text;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Benchmarks;

/// <summary>
/// Per-message profile of one measurement, printed after its log line when
/// <c>ZMQASPIRE_BENCH_PROFILE=1</c>: CPU time and times scheduled (wake-ups) per message of the
/// threads of this process, of the helper process (ssh, zmq-tunnel) and of sshd's session
/// processes, from <c>/proc/PID/task/TID/schedstat</c> (CPU) and <c>status</c> (voluntary
/// context switches: a thread that slept and was woken; preemptions are not counted); and for our in-process tunnel, the
/// relay's counters (<see cref="RelayCounters"/>): local reads, SSH data messages, window adjusts.
/// </summary>
internal sealed class RelayProfile
{
    private readonly Dictionary<string, ThreadTimes> _threads;
    private readonly long[] _counters;
    private readonly int[] _pids;
    private readonly int? _helper;
    private readonly long _allocated;
    private readonly double _helperTotalMs;

    private RelayProfile(int[] pids, int? helper)
    {
        _pids = pids;
        _helper = helper;
        _threads = Threads(pids, helper);
        _counters = RelayCounters.Snapshot();
        _allocated = GC.GetTotalAllocatedBytes(precise: true);
        _helperTotalMs = ProcessCpuMs(helper);
    }

    /// <summary>Gets a value indicating whether profiling was asked for (<c>ZMQASPIRE_BENCH_PROFILE=1</c>).</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("ZMQASPIRE_BENCH_PROFILE") == "1";

    /// <summary>Starts a profile of this process, <paramref name="helper"/> and <paramref name="sshd"/>'s sessions; null when not <see cref="Enabled"/>.</summary>
    public static RelayProfile? Start(int? helper, int sshd)
    {
        if (!Enabled)
        {
            return null;
        }

        RelayCounters.Enabled = true;
        int[] pids = [Environment.ProcessId, .. helper is { } h ? [h] : Array.Empty<int>(), .. Proc.Descendants(sshd)];
        return new RelayProfile(pids, helper);
    }

    /// <summary>The profile since <see cref="Start"/>, per message (<paramref name="messages"/> sent one way, warm-up included).</summary>
    public string Stop(long messages)
    {
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - _allocated;
        var after = Threads(_pids, _helper);
        var counters = RelayCounters.Snapshot();
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"    per message ({messages:N0}): [this process] {allocated / (double)messages:0.#} B allocated;"));
        if (_helper is not null)
        {
            // The whole helper process, threads that ended during the measurement included (a
            // connection's reader thread ends with it); 10 ms clock ticks, so coarse for short runs.
            text.Append(CultureInfo.InvariantCulture, $" [helper: all threads] {(ProcessCpuMs(_helper) - _helperTotalMs) * 1000 / messages:0.00} us CPU;");
        }

        foreach (var (name, now) in after.OrderByDescending(t => t.Value.Ns - _threads.GetValueOrDefault(t.Key).Ns))
        {
            var before = _threads.GetValueOrDefault(name);
            var cpu = (now.Ns - before.Ns) / 1000.0 / messages;
            if (cpu >= 0.05)
            {
                text.Append(CultureInfo.InvariantCulture, $" [{name}] {cpu:0.00} us CPU, {(now.Sleeps - before.Sleeps) / (double)messages:0.000} wake-ups, {(now.Preemptions - before.Preemptions) / (double)messages:0.000} preempted;");
            }
        }

        var delta = counters.Select((c, i) => c - _counters[i]).ToArray();
        if (delta.Any(d => d != 0))
        {
            text.Append("\n    relay per message:");
            for (var i = 0; i < delta.Length; i++)
            {
                text.Append(CultureInfo.InvariantCulture, $" {(RelayCounter)i} {delta[i] / (double)messages:0.###}");
            }

            var sent = delta[(int)RelayCounter.DataSent];
            var received = delta[(int)RelayCounter.DataReceived];
            text.Append(CultureInfo.InvariantCulture, $"; B per data message out {(sent == 0 ? 0 : delta[(int)RelayCounter.BytesSent] / sent)}, in {(received == 0 ? 0 : delta[(int)RelayCounter.BytesReceived] / received)}");
        }

        return text.ToString();
    }

    /// <summary>CPU time of a whole process in ms (utime + stime of <c>/proc/PID/stat</c>, ended threads included); 0 when unknown.</summary>
    private static double ProcessCpuMs(int? pid)
    {
        try
        {
            if (pid is not { } p)
            {
                return 0;
            }

            // Fields after the command name, which is in parentheses and may contain spaces.
            var stat = File.ReadAllText($"/proc/{p}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return ticks * 10.0; // USER_HZ is 100 on Linux
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>
    /// CPU ns, voluntary context switches (the thread slept and was woken) and involuntary ones
    /// (it was preempted while runnable: by the thread it had just woken, by other load) per
    /// thread name (process name / thread name), summed over threads of that name; the helper's
    /// process name gets a <c>helper:</c> prefix, since zmq-tunnel's process is named
    /// <c>dotnet</c> like this one.
    /// </summary>
    private static Dictionary<string, ThreadTimes> Threads(int[] pids, int? helper)
    {
        var result = new Dictionary<string, ThreadTimes>();
        foreach (var pid in pids)
        {
            try
            {
                var process = (pid == helper ? "helper:" : string.Empty) + File.ReadAllText($"/proc/{pid}/comm").Trim();
                foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
                {
                    var name = process + "/" + File.ReadAllText(Path.Combine(task, "comm")).Trim();
                    var fields = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ');
                    var status = File.ReadAllLines(Path.Combine(task, "status"));
                    var sum = result.GetValueOrDefault(name);
                    result[name] = new ThreadTimes(
                        sum.Ns + double.Parse(fields[0], CultureInfo.InvariantCulture),
                        sum.Sleeps + Count(status, "voluntary_ctxt_switches:"),
                        sum.Preemptions + Count(status, "nonvoluntary_ctxt_switches:"));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A thread or process that ended meanwhile.
            }
        }

        return result;
    }

    private static long Count(string[] status, string key) =>
        long.Parse(status.First(l => l.StartsWith(key, StringComparison.Ordinal)).AsSpan(key.Length).Trim(), CultureInfo.InvariantCulture);

    /// <summary>A thread's (or same-named threads') CPU ns, voluntary and involuntary context switches.</summary>
    private readonly record struct ThreadTimes(double Ns, long Sleeps, long Preemptions);
}
