using System.Globalization;
using ZmqAspire.Testing.Sshd;

namespace ZmqAspire.Tunneling.Tests;

/// <summary>
/// Processes stopped with SIGSTOP (as <c>docker pause</c> freezes a bastion) until disposed, when
/// SIGCONT thaws them.
/// </summary>
/// <remarks>
/// The processes to freeze are listed a moment before they are signalled, and a session process
/// of an earlier test that is still closing (disposal no longer waits for it) can exit in between:
/// such a process is skipped, since there is nothing left to freeze. Any other failure thaws what
/// was already stopped before it is thrown, so that one failed test cannot leave the shared sshd
/// frozen for every test after it (it once did: 12 failures from one vanished process).
/// </remarks>
internal sealed class FrozenProcesses : IDisposable
{
    private readonly List<int> _stopped = [];

    private FrozenProcesses()
    {
    }

    /// <summary>Gets the processes that were stopped.</summary>
    public IReadOnlyList<int> Pids => _stopped;

    /// <summary>Stops every process of <paramref name="pids"/> that still exists.</summary>
    /// <exception cref="InvalidOperationException">None of them could be stopped, or kill(1) failed for another reason than an exited process.</exception>
    public static FrozenProcesses Freeze(IEnumerable<int> pids)
    {
        var frozen = new FrozenProcesses();
        try
        {
            foreach (var pid in pids)
            {
                var result = Kill("STOP", pid);
                if (result.ExitCode == 0)
                {
                    frozen._stopped.Add(pid);
                }
                else if (Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}"))
                {
                    throw new InvalidOperationException($"kill -STOP {pid} failed: {result.StandardError.Trim()}");
                }
            }

            if (frozen._stopped.Count == 0)
            {
                throw new InvalidOperationException("every process to freeze had exited");
            }

            return frozen;
        }
        catch
        {
            frozen.Dispose();
            throw;
        }
    }

    /// <summary>Thaws every stopped process (SIGCONT); one that exited meanwhile is skipped.</summary>
    public void Dispose()
    {
        foreach (var pid in _stopped)
        {
            _ = Kill("CONT", pid);
        }

        _stopped.Clear();
    }

    private static ProcessResult Kill(string signal, int pid) =>
        ProcessRunner.Run("/bin/kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);
}
