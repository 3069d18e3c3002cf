@writing_a_promise
Feature: Writing a Promise (the database guide)
  A platform engineer writes their first Promise, Postgres as a service: the Kratix CLI scaffolds the
  Promise, its API, a Promise workflow that delivers the Zalando operator and a Python resource workflow.
  The finished Promise (promises/database, with the guide's pipeline) is then installed, a platform user
  requests a database, and its pods run on the worker.

  The scaffolding runs the real Kratix CLI, at the version pinned in versions.yaml, in a temporary
  directory. Without that CLI it is skipped with the reason (scripts/install-kratix-cli installs it);
  every other scenario runs on every target, and each can be run alone (-k).

  @needs_cli
  Scenario: Scaffold the database Promise with the Kratix CLI
    Given the Kratix CLI at the pinned version
    And an empty directory "database" to write the Promise in
    When the platform engineer runs "kratix init promise database --group demo.kratix.io --kind Database"
    Then the CLI says "database promise bootstrapped in the current directory"
    And the scaffold is the Promise "database" offering "Database" as "demo.kratix.io/v1alpha1"
    When the platform engineer runs "kratix update api --property size:string"
    Then the CLI says "Promise api updated"
    And the scaffolded API has the property "size" of type "string"
    When the Zalando operator manifests are copied into "deps"
    And the platform engineer runs "kratix update dependencies ./deps/ --image kratix-guide/database-promise-pipeline:v0.1.0"
    Then the CLI says "docker build -t kratix-guide/database-promise-pipeline:v0.1.0 workflows/promise/configure/dependencies/configure-deps"
    And the promise configure pipeline "dependencies" runs "kratix-guide/database-promise-pipeline:v0.1.0" in the container "configure-deps" carrying the files of "deps"
    When the platform engineer runs "kratix add container resource/configure/database-configure --image kratix-guide/database-resource-pipeline:v0.1.0 --language python"
    Then the CLI says "workflows/resource/configure/database-configure/kratix-guide-database-resource-pipeline/scripts/"
    And the "resource/configure" pipeline "database-configure" runs "kratix-guide/database-resource-pipeline:v0.1.0" in the python container "kratix-guide-database-resource-pipeline"
    And the scaffold has the structure of "promises/database"

  Scenario: Install the database Promise
    Given a Kratix platform cluster with a worker cluster registered as a destination
    When the promise "database" is deleted
    And the status changes of the promise "database" are recorded from now on
    And the promise "database" is installed
    Then the promise "database" goes from "Unavailable" to "Available"
    And the deployment "postgres-operator" becomes ready on the worker

  Scenario: Request a database
    Given a Kratix platform cluster with a worker cluster registered as a destination
    And the promise "database" is installed and Available
    When the platform user requests:
      """yaml
      apiVersion: demo.kratix.io/v1alpha1
      kind: Database
      metadata:
        name: example-database
        namespace: default
      spec:
        size: "1Gi"
      """
    Then the request "example-database" is reconciled with the message "Resource requested"
    And the request "example-database" has the condition "Reconciled" "True"
    And the request "example-database" has "teamId" "kratix" in its status
    And the events of request "example-database" include:
      | reason             | message                                           |
      | PipelineStarted    | Configure Pipeline started: database-configure    |
      | WorksSucceeded     | All works associated with this resource are ready |
      | ReconcileSucceeded | Successfully reconciled                           |
    And the pipeline pod of request "example-database" completed its containers in order:
      | container                               |
      | reader                                  |
      | kratix-guide-database-resource-pipeline |
      | work-writer                             |
    And the Zalando cluster "example-database" is Running on the worker with 2 instances
    And the pod "example-database-0" is running and ready on the worker
    And the pod "example-database-1" is running and ready on the worker
    And the deployment "postgres-operator" becomes ready on the worker
    And the volume claim "pgdata-example-database-0" is bound with 1Gi on the worker
    And the volume claim "pgdata-example-database-1" is bound with 1Gi on the worker

  Scenario: Clean up
    Given a Kratix platform cluster with a worker cluster registered as a destination
    When the platform user deletes the request "example-database" of the promise "database"
    And every promise is deleted from the platform
    Then no promise is left on the platform
    And nothing of the database promise is left on the platform
