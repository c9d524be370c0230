import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { TidemarkExampleStack } from './example-stack.js';

// `npx cdk synth|deploy` runs this (cdk.json). Context keys: docs/deploy.md.
const app = new App();
new TidemarkExampleStack(app, String(app.node.tryGetContext('stackName') ?? 'Tidemark'));
// cdk-nag's AwsSolutions pack runs on every synth; an unacknowledged finding fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
