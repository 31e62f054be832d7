using System.Text;

namespace ZmqAspire.TunnelCli;

/// <summary>Reads a secret from the terminal without echo (only with --ask-passphrase, which requires a terminal).</summary>
internal static class Terminal
{
    public static string ReadSecret(string prompt)
    {
        Console.Error.Write(prompt);
        var secret = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (secret.Length > 0)
                {
                    secret.Length--;
                }

                continue;
            }

            secret.Append(key.KeyChar);
        }

        Console.Error.WriteLine();
        return secret.ToString();
    }
}
