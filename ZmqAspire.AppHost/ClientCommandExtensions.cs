using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ZmqAspire.AppHost;

/// <summary>
/// Dashboard commands for a ZmqAspire client: "Send one request" and "Reconnect tunnel". Each
/// posts to the client's HTTP endpoint (<c>/commands/send-request</c>, <c>/commands/reconnect</c>)
/// with a secret that the AppHost generates (a secret parameter, <c>{client}-command-token</c>,
/// so a published manifest carries a reference to it, never its value) and passes to the client
/// as <c>Client__CommandToken</c>, so only the AppHost can trigger them.
/// </summary>
public static class ClientCommandExtensions
{
    /// <summary>The name of the send-one-request command.</summary>
    public const string SendRequestCommand = "send-request";

    /// <summary>The name of the reconnect command.</summary>
    public const string ReconnectCommand = "reconnect-tunnel";

    private const string TokenHeader = "X-ZmqAspire-Command-Token";

    /// <summary>Adds the client's dashboard commands.</summary>
    /// <typeparam name="T">The client resource type.</typeparam>
    /// <param name="client">The client, with an HTTP endpoint serving the command paths.</param>
    /// <param name="endpointName">The name of that endpoint. Default: <c>http</c>.</param>
    /// <returns>The same builder.</returns>
    public static IResourceBuilder<T> WithClientCommands<T>(this IResourceBuilder<T> client, string endpointName = "http")
        where T : IResourceWithEndpoints, IResourceWithEnvironment
    {
        ArgumentNullException.ThrowIfNull(client);
        // Generated like an integration's default password (22 letters and digits), secret.
        var token = ParameterResourceBuilderExtensions.CreateDefaultPasswordParameter(
            client.ApplicationBuilder, $"{client.Resource.Name}-command-token", special: false);
        var endpoint = client.Resource.GetEndpoint(endpointName);
        return client
            .WithEnvironment(context => context.EnvironmentVariables["Client__CommandToken"] = token)
            .WithCommand(SendRequestCommand, "Send one request", ctx => PostAsync(ctx, endpoint, token, "/commands/send-request"), new CommandOptions
            {
                Description = "Send one traced request through the SSH tunnel now and show the reply; the trace appears under Traces.",
                IconName = "Send",
                IsHighlighted = true,
                UpdateState = ctx => IsRunning(ctx) && ctx.ResourceSnapshot.HealthStatus is HealthStatus.Healthy or HealthStatus.Degraded
                    ? ResourceCommandState.Enabled
                    : ResourceCommandState.Disabled,
            })
            .WithCommand(ReconnectCommand, "Reconnect tunnel", ctx => PostAsync(ctx, endpoint, token, "/commands/reconnect"), new CommandOptions
            {
                Description = "Close the client's SSH session to the bastion and log in again (health goes Unhealthy until it is back).",
                IconName = "ArrowSync",
                UpdateState = ctx => IsRunning(ctx) ? ResourceCommandState.Enabled : ResourceCommandState.Disabled,
            });
    }

    private static bool IsRunning(UpdateCommandStateContext context) =>
        context.ResourceSnapshot.State?.Text == KnownResourceStates.Running;

    private static async Task<ExecuteCommandResult> PostAsync(ExecuteCommandContext context, EndpointReference endpoint, ParameterResource tokenParameter, string path)
    {
        if (!endpoint.IsAllocated)
        {
            return CommandResults.Failure("the client's HTTP endpoint is not allocated yet");
        }

        var http = context.Services.GetRequiredService<IHttpClientFactory>().CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(endpoint.Url), path));
        request.Headers.Add(TokenHeader, await tokenParameter.GetValueAsync(context.CancellationToken).ConfigureAwait(false));
        try
        {
            using var response = await http.SendAsync(request, context.CancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(context.CancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode
                ? CommandResults.Success(Summary(body), body, CommandResultFormat.Json)
                : CommandResults.Failure($"{(int)response.StatusCode} {response.ReasonPhrase}: {Detail(body)}");
        }
        catch (HttpRequestException ex)
        {
            return CommandResults.Failure(ex);
        }
    }

    // A one-line message for the dashboard's notification; the JSON is the command's result data.
    private static string Summary(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        return root.TryGetProperty("reply", out var reply)
            ? $"Request {root.GetProperty("sequence")}: '{reply.GetString()}' in {root.GetProperty("durationMs").GetDouble():0.#} ms (trace {root.GetProperty("traceId")})"
            : root.TryGetProperty("message", out var message) ? message.GetString() ?? "done" : "done";
    }

    private static string Detail(string problemJson)
    {
        try
        {
            using var doc = JsonDocument.Parse(problemJson);
            return doc.RootElement.TryGetProperty("detail", out var detail) ? detail.GetString() ?? problemJson : problemJson;
        }
        catch (JsonException)
        {
            return problemJson;
        }
    }
}
