using System.Runtime.InteropServices;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Who this process is, for the messages about a key it may not read: its effective uid, which
/// decides access to the file, and its user name.
/// </summary>
/// <remarks>
/// .NET has no public API for the uid (<see cref="Environment.UserName"/> is the name, empty
/// when a container image has no passwd entry for the uid it runs as), so libc's is called.
/// Compiled into the client integration too (ZmqAspire.SshTunnel links this file), whose hint
/// names the uid to give the key to: one source, and no internals shared between two packages
/// that may be updated apart.
/// </remarks>
internal static class ProcessUser
{
    /// <summary>This process's effective uid (geteuid(2)), as text; null off Linux.</summary>
    public static string? EffectiveUserId()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            return geteuid().ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// For an error: <c>uid 1654, app</c>, the uid alone where the system has no name for it,
    /// the name alone off Linux.
    /// </summary>
    public static string Describe()
    {
        var name = Environment.UserName;
        return (EffectiveUserId(), string.IsNullOrEmpty(name)) switch
        {
            (null, true) => "unknown user",
            (null, false) => name,
            (var uid, true) => $"uid {uid}",
            (var uid, false) => $"uid {uid}, {name}",
        };
    }

#pragma warning disable SA1300, IDE1006 // libc's name
    [DllImport("libc")]
    private static extern uint geteuid();
#pragma warning restore SA1300, IDE1006
}
