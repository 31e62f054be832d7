using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ZmqAspire.Benchmarks;

/// <summary>
/// The processes the benchmark started (sshd, ssh, the server), killed with their children if
/// the benchmark ends early: on exit, Ctrl+C, SIGTERM or SIGHUP. Nothing is left running.
/// </summary>
internal static class ChildProcesses
{
    private static readonly Lock Gate = new();
    private static readonly HashSet<Process> Running = [];
    private static readonly HashSet<string> Directories = [];
    private static readonly List<PosixSignalRegistration> Signals = [];
    private static readonly List<Action> Cleanups = [];

    static ChildProcesses()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP })
        {
            Signals.Add(PosixSignalRegistration.Create(signal, context =>
            {
                KillAll();
                // Let the runtime end the process as the signal asks (128 + signal).
                context.Cancel = false;
            }));
        }
    }

    public static void Add(Process process)
    {
        lock (Gate)
        {
            Running.Add(process);
        }
    }

    /// <summary>Registers a temp directory to delete if the benchmark ends early.</summary>
    public static void AddDirectory(string path)
    {
        lock (Gate)
        {
            Directories.Add(path);
        }
    }

    public static void RemoveDirectory(string path)
    {
        lock (Gate)
        {
            Directories.Remove(path);
        }
    }

    /// <summary>Registers an action to run after the processes are killed if the benchmark ends early (a network namespace to delete).</summary>
    public static void AddCleanup(Action cleanup)
    {
        lock (Gate)
        {
            Cleanups.Add(cleanup);
        }
    }

    public static void RemoveCleanup(Action cleanup)
    {
        lock (Gate)
        {
            Cleanups.Remove(cleanup);
        }
    }

    public static void Remove(Process process)
    {
        lock (Gate)
        {
            Running.Remove(process);
        }
    }

    private static void KillAll()
    {
        Process[] all;
        string[] directories;
        Action[] cleanups;
        lock (Gate)
        {
            all = [.. Running];
            Running.Clear();
            cleanups = [.. Cleanups];
            Cleanups.Clear();
            directories = [.. Directories];
            Directories.Clear();
        }

        foreach (var process in all)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }

        foreach (var process in all)
        {
            try
            {
                process.WaitForExit(2_000);
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }

        foreach (var cleanup in cleanups)
        {
            try
            {
                cleanup();
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException)
            {
            }
        }

        foreach (var directory in directories)
        {
            try
            {
                foreach (var process in all)
                {
                    process.WaitForExit(2_000);
                }

                Directory.Delete(directory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}
