// The popular Node clients, each making one call against BASE_URL (the gateway or the emulator).
// Run by tests/clients/test_client_matrix.py: `node clients.mjs CASE BASE_URL`. Prints one JSON
// line describing what came back; a failure is a stack trace and a non-zero exit.
import OpenAI from "openai";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText, tool, stepCountIs } from "ai";
import { z } from "zod";

const MODEL = "gpt-4o-mini";
const KEY = "sk-client-matrix";
const [, , name, baseURL] = process.argv;

const cases = {
  async openai_chat() {
    const client = new OpenAI({ baseURL, apiKey: KEY, maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Say hello." }] });
    return { text: reply.choices[0].message.content };
  },
  async openai_responses() {
    const client = new OpenAI({ baseURL, apiKey: KEY, maxRetries: 0 });
    const reply = await client.responses.create({ model: MODEL, input: "Say hello." });
    return { text: reply.output_text, id: reply.id };
  },
  async openai_responses_stream() {
    const client = new OpenAI({ baseURL, apiKey: KEY, maxRetries: 0 });
    const stream = await client.responses.create({ model: MODEL, input: "Tell me a story.", stream: true });
    let text = "";
    let final = null;
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") final = event.response;
    }
    return { text, final: final.output[0].content[0].text };
  },
  async vercel_generate_text_with_tool() {
    const provider = createOpenAI({ baseURL, apiKey: KEY });
    const calls = [];
    const result = await generateText({
      model: provider(MODEL),
      prompt: "What is the weather in Paris?",
      tools: {
        get_weather: tool({
          description: "The weather in a city",
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => {
            calls.push(city);
            return `Sunny and 21 C in ${city}`;
          },
        }),
      },
      stopWhen: stepCountIs(3),
      maxRetries: 0,
    });
    return { final: result.text, tool_calls: calls, steps: result.steps.length };
  },
  async vercel_stream_text() {
    const provider = createOpenAI({ baseURL, apiKey: KEY });
    const result = streamText({ model: provider(MODEL), prompt: "Tell me a story.", maxRetries: 0 });
    let text = "";
    let pieces = 0;
    for await (const piece of result.textStream) {
      text += piece;
      pieces += 1;
    }
    return { text, pieces, usage: await result.usage };
  },
};

console.log(JSON.stringify(await cases[name]()));
