namespace ZmqAspire.Testing.Sshd;

/// <summary>
/// The system account a test sshd lets log in: created once (no shell, <c>/usr/sbin/nologin</c>)
/// and kept across runs, since several test processes may use it. Needs root.
/// </summary>
public static class LoginUser
{
    /// <summary>Creates the account unless it exists.</summary>
    /// <exception cref="InvalidOperationException">useradd failed.</exception>
    public static void Ensure(string name)
    {
        if (ProcessRunner.Run("/usr/bin/id", ["-u", name]).ExitCode == 0)
        {
            return;
        }

        var result = ProcessRunner.Run("/usr/sbin/useradd", ["--system", "--shell", "/usr/sbin/nologin", "--create-home", name]);
        // 9: the user exists (another run created it in between).
        if (result.ExitCode is not 0 and not 9)
        {
            throw new InvalidOperationException($"useradd {name} failed ({result.ExitCode}): {result.StandardError}");
        }
    }
}
